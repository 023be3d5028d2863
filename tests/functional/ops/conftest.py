"""Shared pieces of the operation tests: an engine behind a single operator's gate that approves each step itself
(``--approve``, recorded in the in-memory sink), so destructive operations can be exercised on the emulators.
Being a manager alone no longer runs them."""

from __future__ import annotations

from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, RunResult, Target
from escher.policy.gate import Gate
from escher.policy.personas import Actor, Persona

# autouse: at teardown, every scripted request must have been made (the hook lets a failed test report only itself)

MANAGER = Actor("alice", Persona.manager)
NO_RETRY = {"mode": "standard", "max_attempts": 1}


@pytest.fixture
def sink() -> MemoryAuditSink:
    return MemoryAuditSink()


def make_engine(ctx: CloudContext, sink: MemoryAuditSink, **kwargs: Any) -> Engine:
    kwargs.setdefault("verify_interval", 0.05)
    kwargs.setdefault("verify_timeout", 2.0)
    gate = Gate(MANAGER, sink, single_operator=True, self_approval="functional test of the operation")
    return Engine(ctx, sink, gate, **kwargs)


def run(engine: Engine, op_id: str, targets: list[Target], params: dict[str, Any] | None = None) -> RunResult:
    plan = engine.plan(op_id, targets, params, actor=str(MANAGER), reason="test")
    return engine.execute(plan)
