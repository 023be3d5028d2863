"""Canary secrets planted in the estate and the config never reach the brain, the model or any log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx2
import pytest

from escher.assist.client import Assistant, BrainError, HttpBrain
from escher.assist.history import MemoryChatLog
from escher.assist.sources import EstateSource
from escher.scans.persist import JsonFileStore
from tests.functional.brain.conftest import RunningBrain
from tests.harness.fake_anthropic import FakeAnthropic, overloaded, tool_use
from tests.unit.brain import canaries


def planted_estate(root: Path) -> JsonFileStore:
    store = JsonFileStore(root / "reports")
    records = [
        {"cloud": "aws", "type": "aws.ec2.instance", "id": f"i-0c0000000000000{i}", "region": "us-east-1",
         "account": "123456789012", "name": f"web-{i}", "tags": {"env": "dev", "owner": "alice@example.com",
                                                                "note": secret},
         "attrs": {"state": "running", "user_data": secret, "instance_type": "t3.large", "cpu_avg_30d": 3.0,
                   "policy": {"Statement": [{"Secret": secret}]}}}
        for i, secret in enumerate(canaries.ALL)
    ]  # fmt: skip
    store.put("estate", "latest", {"collected_at": "2025-01-01T00:00:00+00:00", "records": records})
    return store


@pytest.fixture
def planted(escher_home: Path) -> JsonFileStore:
    config = escher_home / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        f'[secrets]\naws = "{canaries.AWS_KEY_ID}"\nazure = "{canaries.AZURE_SECRET}"\n', encoding="utf-8"
    )
    return planted_estate(escher_home / "data")


def all_text(brain: RunningBrain, fake: FakeAnthropic, caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join([*(b.decode() for b in brain.recorder.bodies), json.dumps(fake.requests), caplog.text])


QUESTIONS = ["Stop all dev VMs", "Show running instances in us-east-1", "Which VMs are underutilized?",
             "Who owns web-1?"]  # fmt: skip


def test_no_canary_reaches_the_brain_the_model_or_a_log(
    planted: JsonFileStore,
    claude_brain: RunningBrain,
    fake_anthropic: FakeAnthropic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_anthropic.queue(*[tool_use("answer_information", {"intent": "owner", "summary": "web-1 belongs to "
                                                           "person-0001@redacted.invalid",
                                                           "resource_ids": ["i-0c00000000000001"]})] * len(QUESTIONS))  # fmt: skip
    assistant = Assistant([EstateSource(planted)], HttpBrain(claude_brain.url), history=MemoryChatLog())
    answers = [assistant.ask(q) for q in QUESTIONS]
    assert all(a.source == "brain" for a in answers)
    assert len(fake_anthropic.requests) == len(QUESTIONS) and len(claude_brain.recorder.bodies) == len(
        QUESTIONS
    )
    seen = all_text(claude_brain, fake_anthropic, caplog)
    assert canaries.leaked(seen) == []
    assert "alice@example.com" not in seen  # pseudonymized on the way out ...
    assert "alice@example.com" in answers[-1].response.summary  # ... and restored on the way back
    assert answers[0].withheld >= len(canaries.ALL)
    sent = json.loads(claude_brain.recorder.bodies[0])
    assert all("policy" not in c.get("attrs", {}) for c in sent["context"])  # no nested documents


def test_the_server_refuses_a_credential_and_does_not_log_it(
    rules_brain: RunningBrain, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for secret in canaries.ALL:
        body = {"query": "list vms", "context": [{"id": "i-1", "tags": {"x": secret}}]}
        resp = httpx2.post(
            f"{rules_brain.url}/v1/ask",
            json=body,
            timeout=10,
            headers={"authorization": f"Bearer {rules_brain.token}"},
        )
        assert resp.status_code == 422
        assert resp.json()["error"] == "CredentialInPayloadError"
        assert canaries.leaked(resp.text) == []
    assert canaries.leaked(caplog.text) == []


def test_a_question_with_a_credential_is_refused_before_sending(rules_brain: RunningBrain) -> None:
    from escher.privacy import CredentialInPayloadError

    assistant = Assistant([], HttpBrain(rules_brain.url))
    with pytest.raises(CredentialInPayloadError):
        assistant.ask(f"why does {canaries.AWS_KEY_ID} fail?")
    assert rules_brain.recorder.bodies == []


def test_overload_reaches_the_client_as_a_clear_error(
    claude_brain: RunningBrain, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.queue(overloaded())
    with pytest.raises(BrainError) as info:
        Assistant([], HttpBrain(claude_brain.url)).ask("stop web-1")
    assert info.value.status == 503 and "overloaded" in info.value.message


def test_no_brain_reachable_falls_back_to_the_local_planner(planted: JsonFileStore) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    answer = Assistant([EstateSource(planted)], HttpBrain(f"http://127.0.0.1:{port}", timeout=2)).ask(
        "Stop all dev VMs"
    )
    assert answer.source == "local"
    assert any("cannot be reached" in n and "local planner" in n for n in answer.notices)
    assert answer.response.kind == "execution"
