"""The engine's bound: at most ``concurrency`` calls at once per cloud and region, whatever the thread count.

A fake operation (not registered in the catalogue) records how many of its applies overlap, per region.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.ops import Call, CloudContext, Decision, Engine, NoParams, Operation, Plan, Risk, Target


class NoSdkContext(CloudContext):
    """No cloud SDK behind it: the fake operation raises nothing an SDK would."""

    def sdk_errors(self, cloud: str) -> tuple[type[BaseException], ...]:
        return ()


class AllowAll:
    def authorize(self, plan: Plan) -> Decision:
        return Decision(True, "test", via="test")


class Overlap:
    """Counts the applies in flight per region and keeps the highest count seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self.applied: list[str] = []

    def apply(self, call: Call, state: dict[str, Any]) -> None:
        region = call.target.region or ""
        with self._lock:
            self.now[region] += 1
            self.peak[region] = max(self.peak[region], self.now[region])
            self.peak_total = max(self.peak_total, sum(self.now.values()))
        time.sleep(0.15)  # long enough that every free slot fills while this one is held
        with self._lock:
            self.now[region] -= 1
            self.applied.append(call.target.resource_id)


def _fake_op(overlap: Overlap) -> Operation:
    done: set[str] = set()

    def fetch(call: Call) -> dict[str, Any]:
        return {"done": call.target.resource_id in done}

    def apply(call: Call, state: dict[str, Any]) -> None:
        overlap.apply(call, state)
        done.add(call.target.resource_id)

    return Operation(
        id="aws.test.fake",
        description="fake",
        risk=Risk.low,
        permissions=("test:Fake",),
        cli="true",
        fetch=fetch,
        wanted=lambda call, state: {"done": True},
        apply=apply,
    )


def _run(targets: list[Target], bound: int) -> tuple[Overlap, Engine]:
    overlap = Overlap()
    engine = Engine(NoSdkContext(), MemoryAuditSink(), AllowAll(), concurrency=bound, verify_interval=0.01)
    plan = Plan(_fake_op(overlap), NoParams(), [], actor="user:test", reason="bound")
    plan.changes = [engine._plan_one(plan, t) for t in targets]
    result = engine.execute(plan)
    assert result.counts() == {"verified": len(targets)}, result.to_dict()
    return overlap, engine


@pytest.mark.parametrize("bound", [1, 3])
def test_at_most_the_bound_run_at_once_in_one_region(bound: int) -> None:
    targets = [Target("aws", f"i-{n}", "eu-west-1") for n in range(4 * bound)]
    overlap, _ = _run(targets, bound)
    assert sorted(overlap.applied) == sorted(t.resource_id for t in targets)  # each applied exactly once
    assert overlap.peak["eu-west-1"] == bound  # reached, never exceeded


def test_the_bound_is_per_region_not_global() -> None:
    targets = [Target("aws", f"i-{r}-{n}", r) for r in ("eu-west-1", "us-east-1") for n in range(6)]
    overlap, _ = _run(targets, 2)
    assert overlap.peak == Counter({"eu-west-1": 2, "us-east-1": 2})
    assert overlap.peak_total > 2  # the two regions ran side by side
