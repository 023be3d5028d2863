"""`escher extend --plan` in a process where asyncio.run() already ran (the console, the MCP server, or an earlier
test in the same pytest worker): asyncio.run leaves no event loop set, and Pulumi's mocks need one."""

from __future__ import annotations

import asyncio

import pytest

from escher.infra.plan import run_plan
from tests.functional.infra.conftest import make_spec

pytest.importorskip("pulumi")


def test_the_plan_runs_after_an_asyncio_run_in_the_same_thread(bundle: str) -> None:
    asyncio.run(asyncio.sleep(0))
    with pytest.raises(RuntimeError):  # what the plan met before it made its own loop
        asyncio.get_event_loop_policy().get_event_loop()
    plan = run_plan(make_spec("gcp", bundle))
    assert plan.resources
