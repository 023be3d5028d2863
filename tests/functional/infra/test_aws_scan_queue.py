"""The organization scan's wiring in the AWS Extension (issue #19 item 4), under Pulumi mocks: a scan queue with
its own dead-letter queue after a few receives, consumed by the worker one account at a time with partial batch
failures and a bounded concurrency, the worker told where the queue is, and the worker role allowed that queue
and sts:AssumeRole on the organization role inside its own organization only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.infra.conftest import make_spec, run_under_mocks
from tests.functional.infra.iam_eval import decide

pulumi = pytest.importorskip("pulumi")

T_QUEUE = "aws:sqs/queue:Queue"
T_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
T_POLICY = "aws:iam/rolePolicy:RolePolicy"
ORG = {"aws:PrincipalOrgID": "o-mine", "aws:ResourceOrgID": "o-mine"}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    bundle = tmp_path_factory.mktemp("bundle") / "worker.zip"
    bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    return run_under_mocks(make_spec("aws", str(bundle)))


def test_the_scan_queue_redrives_to_its_own_dead_letter_queue(deployed: Any) -> None:
    queue = deployed.one(T_QUEUE, "scan-queue")
    redrive = json.loads(queue["redrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith("scan-dead-letters")  # not the event pipeline's queue
    assert redrive["maxReceiveCount"] == 3
    assert queue["sqsManagedSseEnabled"] is True
    # longer than the function may run, so a message being scanned is not handed to a second worker
    fn = deployed.one("aws:lambda/function:Function", "worker")
    assert queue["visibilityTimeoutSeconds"] >= fn["timeout"]
    assert deployed.one(T_QUEUE, "scan-dead-letters")["messageRetentionSeconds"] == 14 * 24 * 3600


def test_the_worker_consumes_one_account_at_a_time_reporting_failures_per_message(deployed: Any) -> None:
    [mapping] = deployed.of_type(T_MAPPING)
    inputs = mapping.inputs
    assert inputs["eventSourceArn"].endswith("scan-queue")
    assert inputs["functionName"].endswith("worker")
    assert inputs["batchSize"] == 1
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 2 <= inputs["scalingConfig"]["maximumConcurrency"] <= 1000  # Lambda's bounds


def test_the_worker_is_told_where_the_scan_queue_is_and_the_stack_says_it(deployed: Any) -> None:
    fn = deployed.one("aws:lambda/function:Function", "worker")
    assert fn["environment"]["variables"]["ESCHER_SCAN_QUEUE_URL"] == "sqs://scan-queue-mock"
    # (their URLs are the provider's outputs, which the mocks leave unset; the laptop reads them after a deploy)
    assert {"scan_queue", "scan_dead_letter_queue"} <= set(deployed.outputs)


def _as_evaluated(policy_text: str, caller_org: str) -> Any:
    """IAM replaces a policy variable with the request's value before it compares (iam_eval does not)."""
    return json.loads(policy_text.replace("${aws:PrincipalOrgID}", caller_org))


def test_the_worker_role_may_use_the_scan_queue_and_enter_accounts_of_its_organization_only(
    deployed: Any,
) -> None:
    text = deployed.one(T_POLICY, "worker-scan-queue")["policy"]
    assert "${aws:PrincipalOrgID}" in text  # the caller's own organization, whatever it is
    policy = _as_evaluated(text, ORG["aws:PrincipalOrgID"])
    queue = deployed.one(T_QUEUE, "scan-queue")
    queue_arn = next(s["Resource"][0] for s in policy["Statement"] if s["Sid"] == "ScanQueue")
    assert queue_arn.endswith("scan-queue") and "*" not in queue_arn
    for action in ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert decide(policy, action, queue_arn) == "allow", action
    assert (
        decide(policy, "sqs:SendMessage", queue_arn.replace("scan-queue", "dead-letters")) == "implicit-deny"
    )
    assert decide(policy, "sqs:PurgeQueue", queue_arn) == "implicit-deny"
    member_role = "arn:aws:iam::222233334444:role/OrganizationAccountAccessRole"
    assert decide(policy, "sts:AssumeRole", member_role, ORG) == "allow"
    outsider = {**ORG, "aws:ResourceOrgID": "o-someone-else"}
    assert decide(policy, "sts:AssumeRole", member_role, outsider) == "implicit-deny"
    other_role = "arn:aws:iam::222233334444:role/Admin"
    assert decide(policy, "sts:AssumeRole", other_role, ORG) == "implicit-deny"
    assert decide(policy, "organizations:ListAccounts", "*") == "allow"
    assert "redrivePolicy" in queue
