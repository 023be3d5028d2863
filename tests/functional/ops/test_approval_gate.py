"""Approval is its own act, end to end: the installed ``escher`` in a subprocess against the moto server.

The estate is 3 dev and 3 production instances and 3 snapshots, read by a real ``escher scan`` (``ask`` plans
from it with the local planner). Every test reads the instances and snapshots back with boto3: ``--yes`` (or a
manager's ``--yes``) never runs a step that needs approval; a second manager's ``escher approvals approve``
followed by ``escher approvals run``, or a single operator's ``--approve "reason"``, does, and the ledger
(the audit file) holds both acts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

ESCHER = str(Path(sys.executable).with_name("escher"))
TEAM = '[personas]\nmanagers = ["alice", "mona"]\nexecutors = ["eddie"]\n'


@dataclass
class Estate:
    dev: list[str]
    prod: list[str]
    snapshots: list[str]
    home: Path

    def states(self) -> dict[str, str]:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        reply = ec2.describe_instances(InstanceIds=self.dev + self.prod)
        return {i["InstanceId"]: i["State"]["Name"] for r in reply["Reservations"] for i in r["Instances"]}

    def running(self) -> set[str]:
        return {i for i, s in self.states().items() if s == "running"}

    def snapshots_left(self) -> set[str]:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        snaps = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]  # moto adds public ones: filter
        return {s["SnapshotId"] for s in snaps} & set(self.snapshots)

    def audit(self) -> list[dict[str, Any]]:
        """The ledger, oldest first, as ``escher audit list`` reads it."""
        code, rows = escher("audit", "list", "--limit", "10000", user="auditor")
        assert code == 0, rows
        return sorted(rows, key=lambda r: r["seq"])

    def configure(self, text: str) -> None:
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "config.toml").write_text(text, encoding="utf-8")


def escher(*args: str, user: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "ESCHER_USER": user}
    done = subprocess.run(
        [ESCHER, "-o", "json", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    try:
        out = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"not JSON (exit {done.returncode}): {done.stdout[-2000:]!r} {done.stderr[-2000:]!r}")
    return done.returncode, out


@pytest.fixture
def estate(aws_env: Any, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Estate:
    # The ledger and the inventory live in the store: the suite's Postgres + pgvector (one server per session),
    # not an embedded server per test's data dir.
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    ec2 = boto3.client("ec2", region_name="us-east-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ids = {}
    for env in ("dev", "production"):
        spec = {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": env}]}
        out = ec2.run_instances(
            ImageId=image, MinCount=3, MaxCount=3, InstanceType="t3.micro", TagSpecifications=[spec]
        )
        ids[env] = sorted(i["InstanceId"] for i in out["Instances"])
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    snaps = sorted(ec2.create_snapshot(VolumeId=volume)["SnapshotId"] for _ in range(3))
    seeded = Estate(ids["dev"], ids["production"], snaps, escher_home)
    assert seeded.snapshots_left() == set(snaps) and len(seeded.running()) == 6
    return seeded


@pytest.fixture
def scanned(estate: Estate) -> Estate:
    """The estate read by a real ``escher scan``: ``escher ask`` plans from that inventory."""
    code, _ = escher("scan", "-r", "us-east-1", "--checks", "aws.ec2.*", user="solo")
    assert code in (0, 1)  # 1: there are findings; the inventory is what counts
    return estate


def _records(estate: Estate, action: str) -> list[dict[str, Any]]:
    return [r for r in estate.audit() if r["action"] == action]


def test_ask_delete_all_snapshots_yes_waits_then_a_second_manager_approves_and_it_runs(
    scanned: Estate,
) -> None:
    estate = scanned
    estate.configure(TEAM)
    code, out = escher("ask", "delete all snapshots", "--yes", user="alice")  # alice is a manager: no matter
    assert code == 5, out
    [step] = out["execution"]
    assert step["status"] == "needs_approval" and "destructive" in step["message"]
    assert "escher approvals approve" in step["message"] and "escher approvals run" in step["message"]
    request_id = step["approval_request"]
    assert estate.snapshots_left() == set(estate.snapshots)  # nothing deleted

    code, out = escher("approvals", "approve", request_id, user="alice")
    assert code == 4 and "person who made it" in out["message"]  # not your own
    code, out = escher("approvals", "run", request_id, "--yes", user="alice")
    assert code == 5 and "still pending" in out["message"]
    assert estate.snapshots_left() == set(estate.snapshots)

    code, out = escher("approvals", "approve", request_id, "--note", "old AMI backups", user="mona")
    assert code == 0 and out["status"] == "approved"
    code, out = escher("approvals", "run", request_id, "--yes", user="alice")
    assert code == 0, out
    assert out["result"]["counts"] == {"verified": 3}
    assert estate.snapshots_left() == set()

    [asked] = _records(estate, "approval.request")
    [granted] = _records(estate, "approval.grant")
    assert (asked["actor"], granted["actor"]) == ("user:alice", "user:mona")
    assert asked["correlation_id"] == granted["correlation_id"] == request_id
    allowed = [
        r for r in _records(estate, "policy.allow") if r["details"]["operation"] == "aws.ec2.delete_snapshot"
    ]
    assert [r["details"]["via"] for r in allowed] == [f"approval:{request_id}"]
    deleted = [r for r in _records(estate, "aws.ec2.delete_snapshot") if r["outcome"] == "verified"]
    assert sorted(r["target"] for r in deleted) == estate.snapshots

    code, out = escher("approvals", "run", request_id, "--yes", user="alice")  # used once
    assert code == 4 and "is executed" in out["message"]


def test_a_single_operator_deletes_only_with_an_explicit_approve_recorded_as_a_self_approval(
    scanned: Estate,
) -> None:
    estate = scanned
    # no [personas] section: one person, who is the manager and still must approve explicitly
    for _ in range(2):
        code, out = escher("ask", "delete all snapshots", "--yes", user="solo")
        assert code == 5 and out["execution"][0]["status"] == "needs_approval"
        assert '--approve "reason"' in out["execution"][0]["message"]
    assert estate.snapshots_left() == set(estate.snapshots)
    pending = {r["request_id"] for r in escher("approvals", "list", "--status", "pending", user="solo")[1]}

    code, out = escher(
        "ask", "delete all snapshots", "--approve", "volume migrated; backups in vault", user="solo"
    )
    assert code == 0, out
    assert out["execution"][0]["status"] == "executed"
    assert estate.snapshots_left() == set()

    [grant] = _records(estate, "approval.self_grant")
    assert grant["actor"] == "user:solo" and grant["reason"] == "volume migrated; backups in vault"
    assert grant["correlation_id"] in pending  # the request the earlier --yes left is the one granted
    assert grant["correlation_id"] in {r["correlation_id"] for r in _records(estate, "approval.request")}
    verified = [r for r in _records(estate, "aws.ec2.delete_snapshot") if r["outcome"] == "verified"]
    assert {r["details"]["authorized_via"] for r in verified} == {f"approval:{grant['correlation_id']}"}


def test_stop_everything_in_production_with_yes_stops_nothing(scanned: Estate) -> None:
    estate = scanned
    code, out = escher("ask", "stop everything in production", "--yes", user="solo")
    assert code == 5, out
    assert {e["status"] for e in out["execution"]} == {"needs_approval"}
    assert "in production" in out["execution"][0]["message"]
    assert estate.running() == set(estate.dev + estate.prod)

    code, out = escher("ask", "stop everything in production", "--approve", "maintenance window", user="solo")
    assert code == 0, out
    assert estate.running() == set(estate.dev)


def test_ops_run_on_production_by_tag_waits_and_approvals_run_with_approve_runs_it(estate: Estate) -> None:
    args = ("ops", "run", "aws.ec2.stop_instances", "--tag", "env=production", "-r", "us-east-1")
    code, out = escher(*args, "--yes", user="solo")
    assert code == 5 and "3 target(s) in production" in out["needs_approval"]
    assert '--approve "reason"' in out["next_step"]
    request_id = out["approval_request"]["request_id"]
    assert estate.running() == set(estate.dev + estate.prod)

    code, out = escher("approvals", "run", request_id, "--approve", "patching tonight", user="solo")
    assert code == 0, out
    assert estate.running() == set(estate.dev)
    [grant] = _records(estate, "approval.self_grant")
    assert grant["correlation_id"] == request_id and grant["reason"] == "patching tonight"


def test_an_executor_never_runs_a_destructive_op_with_yes_or_approve(estate: Estate) -> None:
    estate.configure(TEAM)
    snap = estate.snapshots[0]
    args = ("ops", "run", "aws.ec2.delete_snapshot", "-t", snap, "-r", "us-east-1")
    code, out = escher(*args, "--yes", user="eddie")
    assert code == 5 and "escher approvals approve" in out["next_step"]
    code, out = escher(*args, "--yes", "--approve", "trust me", user="eddie")
    assert code == 4 and "single-operator mode" in out["refused"]
    code, out = escher(*args, "--yes", "--approve", "trust me", user="alice")  # a manager, in a team
    assert code == 4 and "single-operator mode" in out["refused"]
    assert estate.snapshots_left() == set(estate.snapshots)
    assert _records(estate, "approval.self_grant") == []


def test_more_targets_than_the_policy_limit_need_approval(estate: Estate) -> None:
    estate.configure("[policy]\nmax_targets_without_approval = 2\n")
    code, out = escher("ops", "run", "aws.ec2.stop_instances", "--tag", "env=dev", "-r", "us-east-1", "--yes",
                       user="solo")  # fmt: skip
    assert code == 5 and "3 targets at once" in out["needs_approval"]
    assert estate.running() == set(estate.dev + estate.prod)
    estate.configure("[policy]\nmax_targets_without_approvals = 2\n")
    code, out = escher("ops", "run", "aws.ec2.stop_instances", "--tag", "env=dev", "-r", "us-east-1", "--yes",
                       user="solo")  # fmt: skip
    assert code == 4 and "known settings" in out["hint"]


def test_an_approved_request_not_used_before_its_expiry_no_longer_runs(estate: Estate) -> None:
    estate.configure(TEAM + "[policy]\napproval_ttl_hours = 0.5\n")
    code, out = escher("ops", "run", "aws.ec2.delete_snapshot", "-t", estate.snapshots[0], "-r", "us-east-1",
                       "--yes", user="eddie")  # fmt: skip
    assert code == 5
    request = out["approval_request"]
    request_id = request["request_id"]
    lifetime = datetime.fromisoformat(request["expires_at"]) - datetime.fromisoformat(request["requested_at"])
    assert lifetime == timedelta(minutes=30)  # [policy] approval_ttl_hours
    assert escher("approvals", "approve", request_id, user="mona")[0] == 0
    # half an hour passes: move the stored expiry to a moment ago rather than sleep
    stored = estate.home / "data" / "approvals.json"
    data = json.loads(stored.read_text())
    assert data[request_id]["status"] == "approved"
    data[request_id]["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    stored.write_text(json.dumps(data))
    code, out = escher("approvals", "run", request_id, "--yes", user="eddie")
    assert code == 4 and "is expired" in out["message"]
    assert estate.snapshots_left() == set(estate.snapshots)
    escher("approvals", "list", user="eddie")
    [expired] = _records(estate, "approval.expire")  # noticed twice, audited once
    assert expired["details"]["was"] == "approved"


def test_a_template_is_a_standing_approval_inside_its_bounds_and_approve_covers_a_run_outside(
    estate: Estate,
) -> None:
    tpl = estate.home / "resize.toml"
    tpl.write_text(
        'name = "dev-resize"\noperation = "aws.ec2.modify_instance_type"\nmax_targets = 1\n'
        '[variables.instance_type]\nchoices = ["t3.small"]\n[target_tags]\nenv = ["dev"]\n'
    )
    assert escher("templates", "add", str(tpl), user="solo")[0] == 0
    [added] = _records(estate, "policy.template_add")
    assert added["actor"] == "user:solo" and added["target"] == "dev-resize"
    ec2 = boto3.client("ec2", region_name="us-east-1")
    dev, prod = estate.dev[0], estate.prod[0]
    ec2.stop_instances(InstanceIds=[dev, prod])
    run = ("templates", "run", "dev-resize", "-r", "us-east-1", "--var", "instance_type=t3.small")

    code, out = escher(*run, "-t", dev, "--yes", user="solo")  # destructive, but inside the manager's bounds
    assert code == 0, out
    assert out["result"]["decision"]["via"] == "template:dev-resize"
    code, out = escher(*run, "-t", prod, "--yes", user="solo")
    assert (
        code == 4 and "outside template dev-resize" in out["refused"] and "escher ops run" in out["next_step"]
    )
    code, out = escher(*run, "-t", prod, "--approve", "one-off for the load test", user="solo")
    assert code == 0, out

    def itype(iid: str) -> str:
        return str(
            ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")["InstanceType"]["Value"]
        )

    assert (itype(dev), itype(prod), itype(estate.prod[1])) == ("t3.small", "t3.small", "t3.micro")
    [grant] = _records(estate, "approval.self_grant")
    assert grant["reason"] == "one-off for the load test" and grant["target"] == f"{prod}@us-east-1"


def test_on_a_terminal_a_y_approves_nothing_in_ask_or_chat(scanned: Estate) -> None:
    from tests.functional.brain.test_chat_tty import Terminal

    env = {
        **os.environ,
        "ESCHER_USER": "solo",
        "TERM": "dumb",  # prompt_toolkit's plain line mode: the stream reads as lines (test_chat_tty.py)
        "COLUMNS": "250",
        "LINES": "60",
        "NO_COLOR": "1",
    }
    ask = Terminal([ESCHER, "ask", "delete all snapshots"], env)
    try:
        shown = ask.expect(r"needs_approval|\[y/N\]: ")
        if shown.endswith("[y/N]: "):  # were it ever asked, the person's "y" must still not approve it
            ask.send("y")
            ask.expect(r"needs_approval")
        assert ask.close() == 5
    finally:
        if ask.proc.poll() is None:
            ask.proc.kill()
            ask.proc.wait()
    chat = Terminal([ESCHER, "chat"], env)
    try:
        chat.expect(r"you> ")
        chat.send("stop everything in production")
        shown = chat.expect(r"needs_approval|\[y/N\]: ")
        if shown.endswith("[y/N]: "):
            chat.send("y")
        chat.expect(r"you> ")
        time.sleep(1)  # a Ctrl-D before prompt_toolkit is in raw mode is never read (see test_chat_tty.py)
        chat.eof()
        assert chat.close() == 0
    finally:
        if chat.proc.poll() is None:
            chat.proc.kill()
            chat.proc.wait()
    assert estate_untouched(scanned)
    assert len(_records(scanned, "approval.request")) == 2 and _records(scanned, "policy.allow") == []


def estate_untouched(estate: Estate) -> bool:
    return estate.snapshots_left() == set(estate.snapshots) and estate.running() == set(
        estate.dev + estate.prod
    )


def test_fix_holds_a_bulk_fix_over_the_limit_until_approved(estate: Estate) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    buckets = [f"logs-{i}-{uuid.uuid4().hex[:8]}" for i in range(3)]
    for name in buckets:
        s3.create_bucket(Bucket=name)
    check = "aws.s3.bucket_public_access_block"
    code, _ = escher("scan", "-r", "us-east-1", "--checks", check, user="solo")
    assert code in (0, 1)
    estate.configure("[policy]\nmax_targets_without_approval = 2\n")
    code, out = escher("fix", "--check", check, "--yes", user="solo")
    assert code == 5 and "3 targets at once" in out["needs_approval"], out

    def blocked(name: str) -> bool:
        try:
            return all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())
        except s3.exceptions.ClientError:
            return False

    assert not any(blocked(b) for b in buckets)
    code, out = escher(
        "fix", "--check", check, "--approve", "all log buckets are private by design", user="solo"
    )
    assert code == 0, out
    assert all(blocked(b) for b in buckets)
    [grant] = _records(estate, "approval.self_grant")
    assert grant["reason"] == "all log buckets are private by design"
