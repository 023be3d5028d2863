"""How often the engine reads a resource before changing it, and when it starts threads.

The design rule: the state a change is decided on is read now, never taken from an event or an old plan.
``execute`` re-reads every target; ``run`` (plan + execute in one call) lets the plan's read, made by that same
call a moment earlier, stand for the re-read, and reads again when that read is no longer a moment old.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.clouds.aws.ops.s3 import BLOCK_FLAGS
from escher.ops import Decision, Engine, Plan, Target
from escher.ops import engine as engine_mod
from tests.unit.pipeline.fakes import FakeS3, FakeS3Context

OP = "aws.s3.block_public_access"


class Bucket(FakeS3):
    """The in-memory S3 behind the real operation; every read and write is logged with its thread."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(names)
        self.log: list[tuple[str, str, str]] = []  # (step, bucket, thread name)

    def get_public_access_block(self, Bucket: str) -> dict[str, Any]:
        self.log.append(("read", Bucket, threading.current_thread().name))
        return super().get_public_access_block(Bucket)

    def put_public_access_block(
        self, Bucket: str, PublicAccessBlockConfiguration: dict[str, bool]
    ) -> dict[str, Any]:
        self.log.append(("write", Bucket, threading.current_thread().name))
        return super().put_public_access_block(Bucket, PublicAccessBlockConfiguration)

    def steps(self, bucket: str) -> list[str]:
        return [step for step, b, _ in self.log if b == bucket]


class Gate:
    """Allows everything; ``meanwhile`` runs between plan and execute (a slow gate, a concurrent fixer)."""

    def __init__(self, meanwhile: Any = None) -> None:
        self.meanwhile = meanwhile

    def authorize(self, plan: Plan) -> Decision:
        if self.meanwhile is not None:
            self.meanwhile()
        return Decision(True, "test", via="test")


NAMES = [f"b-{i}" for i in range(1, 6)]


@pytest.fixture
def resource() -> Bucket:
    return Bucket(NAMES)


def engine(s3: Bucket, gate: Gate | None = None) -> Engine:
    ctx = FakeS3Context(s3)
    return Engine(ctx, MemoryAuditSink(), gate or Gate(), verify_interval=0.0, verify_timeout=0.0)


T = Target("aws", "b-1", "eu-west-1")


def block_all(s3: Bucket, bucket: str) -> None:
    s3.blocks[bucket] = dict.fromkeys(BLOCK_FLAGS, True)


def test_run_reads_once_before_the_change_then_once_to_verify(resource: Bucket) -> None:
    result = engine(resource).run(OP, [T], actor="user:test")
    assert result.results[0].outcome == "verified"
    assert resource.steps("b-1") == ["read", "write", "read"]


def test_execute_of_a_plan_always_reads_again(resource: Bucket) -> None:
    e = engine(resource)
    plan = e.plan(OP, [T], actor="user:test")
    e.execute(plan)  # even immediately: a plan handed over may be minutes old
    assert resource.steps("b-1") == ["read", "read", "write", "read"]


def test_run_reads_again_when_its_plan_read_is_no_longer_a_moment_old(resource: Bucket) -> None:
    # GIVEN a gate slower than the window, during which someone else fixes the resource
    def slow_and_fixed() -> None:
        time.sleep(engine_mod.SAME_CALL_READ_SECONDS + 0.05)
        block_all(resource, "b-1")

    # WHEN the engine runs the fix
    result = engine(resource, Gate(slow_and_fixed)).run(OP, [T], actor="user:test")
    # THEN it read again, saw the fix, and changed nothing
    assert result.results[0].outcome == "noop"
    assert resource.steps("b-1") == ["read", "read"]


def test_a_plan_read_that_failed_is_never_reused() -> None:
    change = engine_mod.PlannedChange(T, "change", None, {}, "true", read_at=time.monotonic())
    assert not engine_mod._fresh(change, 10.0)
    change.before = dict.fromkeys(BLOCK_FLAGS, False)
    assert engine_mod._fresh(change, 10.0) and not engine_mod._fresh(change, 0.0)


def test_one_target_runs_inline_and_many_run_in_threads(resource: Bucket) -> None:
    main = threading.current_thread().name
    engine(resource).run(OP, [T], actor="user:test")
    assert {thread for _, _, thread in resource.log} == {main}
    resource.log.clear()
    many = [Target("aws", name, "eu-west-1") for name in NAMES[1:]]
    result = engine(resource).run(OP, many, actor="user:test")
    assert [r.target for r in result.results] == many  # results keep the targets' order
    assert main not in {thread for _, _, thread in resource.log}
    for t in many:
        assert resource.steps(t.resource_id) == ["read", "write", "read"]
