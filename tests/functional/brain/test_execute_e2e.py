"""``escher ask "stop the dev instances in us-east-1" --yes`` end to end against the moto server.

The estate is seeded in moto and read by a real ``escher scan``; the plan comes from the local planner or from a
fake Claude behind a real ``escher brain serve`` subprocess; the client re-guards it, the policy gate decides (the
user is a manager) and the ops engine executes. Moto must then show only the dev instances in us-east-1 stopped,
the audit file the verified operation and the chat history the exchange.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from typer.testing import CliRunner

from escher.brain.llm import tool_name
from escher.cli.main import app
from tests.functional.brain.conftest import Estate, chat_rows
from tests.harness.fake_anthropic import FakeAnthropic, FakeAnthropicServer, tool_use

REPO = Path(__file__).resolve().parents[3]
QUESTION = "stop the dev instances in us-east-1"
runner = CliRunner()


def _audit(home: Path) -> list[dict[str, Any]]:
    from tests.harness.ledger import audit_records

    return audit_records(home)


def _assert_only_dev_stopped(estate: Estate, home: Path, out: dict[str, Any]) -> None:
    """Moto, the audit file and the store's chat history after one ``escher ask ... --yes``."""
    states = estate.states()
    assert {i: states[i] for i in estate.dev} == dict.fromkeys(estate.dev, "stopped")
    assert {i: states[i] for i in estate.prod + estate.west_dev} == dict.fromkeys(
        estate.prod + estate.west_dev, "running"
    )
    assert [e["status"] for e in out["execution"]] == ["executed"]
    assert out["execution"][0]["result"]["counts"] == {"verified": 2}
    verified = [r for r in _audit(home) if r["outcome"] == "verified"]  # one record per target
    assert sorted(r["target"] for r in verified) == estate.dev
    assert {(r["action"], r["actor"]) for r in verified} == {("aws.ec2.stop_instances", "user:mona")}
    assert all(r["reason"].startswith("escher ask:") for r in verified)
    chat = chat_rows(os.environ["ESCHER_DATABASE_URL"], home)
    assert [(c["role"], c["conversation_id"]) for c in chat] == [
        ("user", out["conversation_id"]),
        ("assistant", out["conversation_id"]),
    ]
    assert chat[0]["content"] == QUESTION and chat[1]["content"].startswith("[execution]")


def test_local_planner_stops_only_the_dev_instances_in_the_region(estate: Estate, escher_home: Path) -> None:
    result = runner.invoke(app, ["-o", "json", "ask", QUESTION, "--yes"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["source"] == "local" and out["operation_ids"] == ["aws.ec2.stop_instances"]
    step = out["response"]["steps"][0]
    assert sorted(step["targets"]) == estate.dev and step["region"] == "us-east-1"
    _assert_only_dev_stopped(estate, escher_home, out)


def test_without_yes_and_without_a_terminal_nothing_stops(estate: Estate, escher_home: Path) -> None:
    result = runner.invoke(app, ["-o", "json", "ask", QUESTION])
    assert result.exit_code == 1
    assert set(estate.states().values()) == {"running"}
    assert _audit(escher_home) == []


# -- the same flow with Claude: a real `escher brain serve` subprocess talking to the fake Messages API ---------
SERVED_TOKEN = "execute-e2e-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served_brain(fake_anthropic_server: FakeAnthropicServer, tmp_path: Path) -> Iterator[str]:
    """``escher brain serve`` on 127.0.0.1:<free port>, configured for the fake Anthropic; stopped afterwards."""
    port = _free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "brain-home"), "PYTHONPATH": str(REPO),
           "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake_anthropic_server.base_url,
           "ESCHER_BRAIN_LLM_RETRIES": "0", "ESCHER_DATA_DIR": str(tmp_path / "brain-data"),
           "ESCHER_BRAIN_TOKEN": SERVED_TOKEN}  # fmt: skip
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "escher"), "brain", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx2.get(f"{url}/v1/health", timeout=1)
                if health.status_code == 200:
                    assert health.json()["llm"] == "configured"
                    break
            except httpx2.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"the brain did not start: {out[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_claude_via_a_served_brain_plans_and_the_engine_stops_only_dev(
    estate: Estate,
    escher_home: Path,
    served_brain: str,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The plan must come from the model (it carries the model's own reason), not from the server's planner.
    fake_anthropic.queue(
        tool_use(tool_name("aws.ec2.stop_instances"),
                 {"targets": estate.dev, "region": "us-east-1", "params": {}, "reason": "claude: dev is idle"})
    )  # fmt: skip
    monkeypatch.setenv("ESCHER_BRAIN_URL", served_brain)
    monkeypatch.setenv("ESCHER_BRAIN_TOKEN", SERVED_TOKEN)  # the brain runs with its own data dir here
    result = runner.invoke(app, ["-o", "json", "ask", QUESTION, "--yes"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["source"] == "brain" and out["response"]["source"] == "llm"
    assert out["response"]["steps"][0]["reason"] == "claude: dev is idle"
    assert len(fake_anthropic.requests) == 1
    sent = fake_anthropic.requests[0]["messages"][0]["content"]
    assert all(i in sent for i in estate.dev)  # the model saw the context the client chose ...
    assert not any(i in sent for i in estate.prod)  # ... and only that: the prod instances never left
    _assert_only_dev_stopped(estate, escher_home, out)


def test_an_unreachable_brain_url_falls_back_to_the_local_planner_and_still_runs(
    estate: Estate, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESCHER_BRAIN_URL", f"http://127.0.0.1:{_free_port()}")
    result = runner.invoke(app, ["-o", "json", "ask", QUESTION, "--yes"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["source"] == "local" and any("cannot be reached" in n for n in out["notices"])
    _assert_only_dev_stopped(estate, escher_home, out)
