"""The worker's identity reads the published settings and the signed grants but can never write them.

The worker trusts a grant only when it is signed by the approver key ``settings/effective.json`` names
(:mod:`escher.pipeline.granted`); a worker role that could write that document (or ``approvals/grants/``) could
publish its own key and sign its own grants. The generated AWS policy denies it explicitly; these tests ask the
IAM evaluator (``iam_eval.py``) and then moto's IAM enforcement, with the policy ``escher extend aws --plan``
generates, while the writes the worker really makes (request status, markers, reports, alerts) still pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from escher.infra.permissions import (
    LAPTOP_OWNED_PREFIXES,
    AwsStateArns,
    aws_policy_document,
    default_operations,
    operation_permissions,
)
from tests.functional.infra.iam_eval import decide
from tests.functional.infra.test_aws_policy_on_moto import _denied, worker_s3  # noqa: F401  (the fixture)

STATE = "arn:aws:s3:::escher-state-x"
ARNS = AwsStateArns(
    state_bucket=STATE,
    audit_bucket="arn:aws:s3:::escher-audit-x",
    parameters_prefix="arn:aws:ssm:eu-west-1:123456789012:parameter/escher",
    log_group="arn:aws:logs:eu-west-1:123456789012:log-group:/escher/worker",
    dead_letter_queue="arn:aws:sqs:eu-west-1:123456789012:escher-dead-letters",
    account="123456789012",
)
# keys the worker writes, one per place (shared/pipeline: adapters, granted, markers, jobs, daily, alerts, ...)
WORKER_WRITES = (
    "approvals/req-1.json",
    "markers/aws/ab12/aws.s3.block_public_access.json",
    "reports/daily/2026-12-07.json",
    "reports/digest/2026-12-07.json",
    "estate/latest.json",
    "alerts/alert-1.json",
    "morning-report/2026-12-07/alert-1.json",
    "schedule-runs/nightly/2026-12-07T20:00.json",
    "events-log/2026/12/07/record.json",
)
LAPTOP_OWNED = (
    "settings/effective.json",
    "settings/versions/000007.json",
    "approvals/grants/req-1.json",
)


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    ops = default_operations("aws")
    return aws_policy_document(operation_permissions("aws", ops), ARNS)


@pytest.mark.parametrize("key", LAPTOP_OWNED)
@pytest.mark.parametrize("action", ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"])
def test_the_worker_may_not_write_or_delete_what_the_laptop_publishes(
    policy: dict[str, Any], key: str, action: str
) -> None:
    assert decide(policy, action, f"{STATE}/{key}") == "explicit-deny"


@pytest.mark.parametrize("key", LAPTOP_OWNED)
def test_the_worker_still_reads_them(policy: dict[str, Any], key: str) -> None:
    assert decide(policy, "s3:GetObject", f"{STATE}/{key}") == "allow"


@pytest.mark.parametrize("key", WORKER_WRITES)
def test_what_the_worker_writes_stays_writable(policy: dict[str, Any], key: str) -> None:
    assert decide(policy, "s3:PutObject", f"{STATE}/{key}") == "allow"
    assert decide(policy, "s3:GetObject", f"{STATE}/{key}") == "allow"


def test_the_deny_covers_exactly_the_laptop_owned_prefixes(policy: dict[str, Any]) -> None:
    (deny,) = [s for s in policy["Statement"] if s.get("Sid") == "DenyLaptopOwnedState"]
    assert deny["Effect"] == "Deny"
    assert deny["Resource"] == [f"{STATE}/settings/*", f"{STATE}/approvals/grants/*"]
    assert LAPTOP_OWNED_PREFIXES == ("settings/", "approvals/grants/")
    # a request's status next to the grants is the worker's: the deny must not reach it
    assert decide(policy, "s3:PutObject", f"{STATE}/approvals/grants.json") == "allow"
    assert decide(policy, "s3:PutObject", f"{STATE}/settings.json") == "allow"


def test_the_plan_s_policy_carries_the_deny(bundle: str) -> None:
    import json

    from escher.infra.plan import run_plan
    from tests.functional.infra.conftest import make_spec

    plan = run_plan(make_spec("aws", bundle))
    (text,) = [r.settings["policy"] for r in plan.resources if r.name == "worker-policy"]
    generated = json.loads(text)
    state = f"arn:aws:s3:::{plan.outputs['state_bucket']}"
    assert decide(generated, "s3:PutObject", f"{state}/settings/effective.json") == "explicit-deny"
    assert decide(generated, "s3:PutObject", f"{state}/approvals/req-1.json") == "allow"


def test_on_moto_the_worker_role_cannot_rewrite_the_settings_but_keeps_its_own_writes(
    worker_s3: tuple[Any, dict[str, str]],  # noqa: F811
) -> None:
    s3, buckets = worker_s3
    state = buckets["state"]
    forged = b'{"approvers": {"mallory": ["AAAA"]}}'
    assert _denied(s3.put_object, Bucket=state, Key="settings/effective.json", Body=forged)
    assert _denied(s3.put_object, Bucket=state, Key="settings/versions/000099.json", Body=forged)
    assert _denied(s3.put_object, Bucket=state, Key="approvals/grants/req-1.json", Body=b"{}")
    assert _denied(s3.delete_object, Bucket=state, Key="settings/effective.json")
    for key in ("approvals/req-1.json", "markers/aws/ab12/op.json", "reports/daily/2026-12-07.json"):
        s3.put_object(Bucket=state, Key=key, Body=b"{}")
        assert s3.get_object(Bucket=state, Key=key)["Body"].read() == b"{}"


def test_on_moto_the_worker_role_may_read_the_settings(
    worker_s3: tuple[Any, dict[str, str]],  # noqa: F811
) -> None:
    from botocore.exceptions import ClientError

    s3, buckets = worker_s3
    # nothing is published in this bucket: an allowed read finds no such key, a denied one would be AccessDenied
    for key in ("settings/effective.json", "approvals/grants/req-1.json"):
        with pytest.raises(ClientError) as raised:
            s3.get_object(Bucket=buckets["state"], Key=key)
        assert raised.value.response["Error"]["Code"] == "NoSuchKey", raised.value.response["Error"]


# -- the worker's own function: its environment names the state bucket it trusts -----------------------------
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:escher-worker-abc123"


def test_the_worker_may_not_change_its_own_function_whatever_the_catalogue_grants() -> None:
    from escher.infra.permissions import aws_own_function_policy

    permissions = operation_permissions("aws", default_operations("aws"))
    both = {
        "Version": "2012-10-17",
        "Statement": [
            *aws_policy_document(permissions, ARNS)["Statement"],
            *aws_own_function_policy(FUNCTION, permissions)["Statement"],
        ],
    }
    for action in (
        "lambda:UpdateFunctionConfiguration",
        "lambda:UpdateFunctionCode",
        "lambda:DeleteFunction",
    ):
        assert decide(both, action, FUNCTION) == "explicit-deny", action
        assert decide(both, action, f"{FUNCTION}:live") == "explicit-deny", action
    granted_elsewhere = [
        a for a in permissions if a.startswith("lambda:") and not a.startswith(("lambda:Get", "lambda:List"))
    ]
    for action in granted_elsewhere:
        assert decide(both, action, FUNCTION) == "explicit-deny", action
        # the user's functions are untouched by this deny
        other = "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"
        assert decide(both, action, other) != "explicit-deny", action
    assert decide(both, "lambda:GetFunction", FUNCTION) != "explicit-deny"


def test_the_plan_attaches_the_own_function_deny_to_the_worker_role(bundle: str) -> None:
    import json

    from escher.infra.plan import run_plan
    from tests.functional.infra.conftest import make_spec

    plan = run_plan(make_spec("aws", bundle))
    (policy,) = [r.settings for r in plan.resources if r.name == "worker-self-deny"]
    document = json.loads(policy["policy"])
    # the mocks name each resource's ARN after it: this is the worker function's
    resources = document["Statement"][0]["Resource"]
    assert resources == [
        "arn:aws:mock:us-east-1:123456789012:worker",
        "arn:aws:mock:us-east-1:123456789012:worker:*",
    ]
    assert decide(document, "lambda:UpdateFunctionConfiguration", resources[0]) == "explicit-deny"
