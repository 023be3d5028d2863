"""The organization scan fanned out through SQS, in the deployed shape (issue #19 item 4): the built bundle run in
a clean interpreter with the environment the Pulumi program declares, against a moto organization of 5 member
accounts. The 02:00 job enqueues one message per account instead of scanning; the queue, drained as Lambda's
event source mapping does (one message an invocation, a message reported in batchItemFailures left on the
queue), has the worker scan each account through its organization role; an account whose role cannot be
assumed is named in the joined report and the others are in it; a message that cannot be read is delivered
again until SQS moves it to the scan queue's dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from escher.emulators import MotoEmulator
from tests.functional.deployed.harness import Unpacked, run_worker, unpacked_bundle
from tests.functional.deployed.test_aws_deployed import REGION, Deployment
from tests.functional.orgs.org_estate import DenyingProxy, Org, seed_org

pytest.importorskip("pulumi")

PUBLIC = "aws.s3.bucket_public"
T_QUEUE = "aws:sqs/queue:Queue"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return unpacked_bundle("aws", tmp_path_factory.mktemp("aws-bundle"))


class OrgDeployment(Deployment):
    """The Extension on moto, its scan queue and dead-letter queue made as the program declares them, and the
    laptop's settings naming the organizational unit that holds the members."""

    def __init__(self, moto: MotoEmulator, home: Path, bundle: Unpacked, org: Org, unit: str) -> None:
        super().__init__(moto, home, bundle)
        sqs = boto3.client("sqs", region_name=REGION)
        declared = self.deployed.one(T_QUEUE, "scan-queue")
        self.max_receives = json.loads(declared["redrivePolicy"])["maxReceiveCount"]
        dead = sqs.create_queue(QueueName="scan-dead-letters-mock")["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = {"deadLetterTargetArn": dead_arn, "maxReceiveCount": self.max_receives}
        name = self.env["ESCHER_SCAN_QUEUE_URL"].removeprefix("sqs://")
        self.queue = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(redrive)})[
            "QueueUrl"
        ]
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.dead, self.sqs, self.org = dead, sqs, org
        self.paths.config_file.write_text(
            f'[aws]\nregions = ["{REGION}"]\norganization_units = ["{unit}"]\n', encoding="utf-8"
        )
        self.cli("extend", "sync-settings")  # the laptop publishes the settings the worker runs with

    def drain(self, env: dict[str, str], tmp: Path) -> list[dict[str, Any]]:
        """One round of Lambda's poller: every visible message, one per invocation, in one worker process;
        a message the worker answered as handled is deleted, one it reported failed stays (visible again at
        once here, as after its visibility timeout)."""
        messages: list[dict[str, Any]] = []
        while got := self.sqs.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
        ).get("Messages"):
            messages += [m for m in got if m["MessageId"] not in {x["MessageId"] for x in messages}]
            if len(got) < 10:
                break
        if not messages:
            return []
        events = [{"Records": [self._record(m)]} for m in messages]
        tmp.mkdir(parents=True, exist_ok=True)
        run = run_worker(self.bundle_run, env, events, tmp)
        assert run.outside == [], run.outside
        for message, result in zip(messages, run.results, strict=True):
            assert "ok" in result, result  # the handler answered (it never raises for a queue batch)
            if not result["ok"]["batchItemFailures"]:
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return [{"body": m["Body"], **r["ok"]} for m, r in zip(messages, run.results, strict=True)]

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }

    def visible(self, queue: str) -> list[str]:
        got = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [m["Body"] for m in got.get("Messages", [])]


def _org_with_unit(members: int) -> tuple[Org, str]:
    """``members`` member accounts moved into one organizational unit (the management account stays out)."""
    org = seed_org(members)
    client = boto3.client("organizations", region_name=REGION)
    root = client.list_roots()["Roots"][0]["Id"]
    unit = client.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    for account in org.members:
        client.move_account(AccountId=account, SourceParentId=root, DestinationParentId=unit)
    return org, unit


@pytest.fixture
def deployment(aws_env: MotoEmulator, escher_home: Path, bundle: Unpacked) -> Iterator[OrgDeployment]:
    org, unit = _org_with_unit(5)
    yield OrgDeployment(aws_env, escher_home, bundle, org, unit)


def test_the_daily_job_fans_out_per_account_and_the_joined_report_names_the_unreachable_one(
    deployment: OrgDeployment, aws_env: MotoEmulator, tmp_path: Path
) -> None:
    members = sorted(deployment.org.members)
    locked = members[0]
    deployment.moto.set_cost_and_usage([])
    with DenyingProxy(aws_env.port, {locked}) as proxy:
        env = {**deployment.platform_env(), "AWS_ENDPOINT_URL": proxy.url}
        # WHEN the scheduler's payload reaches the worker
        [daily] = run_worker(deployment.bundle_run, env, [deployment.schedule_input], tmp_path).results
        # THEN it scanned nothing itself: one message per account of the unit is on the scan queue
        assert "ok" in daily, daily
        scan = daily["ok"]["parts"]["scan"]
        assert scan["ok"] is True and scan["queued"] == 5, scan
        assert "scan_id" not in daily["ok"] and not deployment.keys("reports/scan/")
        run = scan["org_run"]
        assert deployment.read(f"scans/org/{run}/manifest.json")["accounts"] == members
        queued = [json.loads(b) for b in deployment.visible(deployment.queue)]
        assert sorted(m["account"] for m in queued) == members
        assert not deployment.keys(f"reports/org/{run}")  # nothing to join yet
        digest = deployment.read(f"reports/digest/{daily['ok']['day']}.json")["body"]
        assert f"Organization scan {run}: 5 account(s) queued" in digest and "No morning report" not in digest
        # and a message that is not a scan message is on the queue too (a poison message)
        deployment.sqs.send_message(
            QueueUrl=deployment.queue,
            MessageBody=json.dumps({"kind": "escher.scan_account", "run": run, "account": "not-an-account"}),
        )
        # WHEN the queue is drained as the event source mapping does, until it is empty
        rounds = [deployment.drain(env, tmp_path / f"round-{i}") for i in range(deployment.max_receives + 2)]
    # THEN each account was scanned once, on the first round; the poison message failed on each delivery
    first = {json.loads(r["body"])["account"]: r for r in rounds[0]}
    assert set(first) == {*members, "not-an-account"}
    assert all(first[a]["batchItemFailures"] == [] for a in members)
    assert first["not-an-account"]["batchItemFailures"], first["not-an-account"]
    later = [json.loads(r["body"])["account"] for rnd in rounds[1:] for r in rnd]
    assert set(later) <= {"not-an-account"} and len(later) == deployment.max_receives - 1
    assert proxy.refused >= 1  # the locked account's role really was refused
    # each account's part is in the state storage under the run
    parts = {k.rsplit("/", 1)[1].removesuffix(".json") for k in deployment.keys(f"scans/org/{run}/accounts/")}
    assert parts == set(members)
    # the joined report: a section per account, the unreachable one named with why, the rest with its bucket
    report = deployment.read(f"reports/org/{run}.json")
    sections = {s["account"]: s for s in report["accounts"]}
    assert list(sections) == members and report["complete"] is True
    assert report["not_scanned"] == [locked]
    assert sections[locked]["status"] == "not scanned"
    assert "OrganizationAccountAccessRole" in sections[locked]["hint"]
    for account in members[1:]:
        found = [f for f in sections[account]["findings"] if f["check_id"] == PUBLIC]
        assert [f["resource_id"] for f in found] == [deployment.org.members[account]], sections[account]
    markdown = deployment.s3.get_object(
        Bucket=deployment.env["ESCHER_STATE_BUCKET"], Key=f"reports/org/{run}.md"
    )
    text = markdown["Body"].read().decode()
    assert f"## Account {locked} (not scanned)" in text and "4 of 5 account(s) scanned" in text
    # the poison message is in the scan queue's dead-letter queue, and the scan queue is empty
    assert [json.loads(b)["account"] for b in deployment.visible(deployment.dead)] == ["not-an-account"]
    assert deployment.visible(deployment.queue) == []
