"""A dead letter that cannot be written is never reported as written: the platform must retry that delivery.

The default sink (no ``ESCHER_DEAD_LETTER_URL``) is the ``dead-letters/`` folder of the state storage; here the
state is a directory where ``dead-letters`` is a file, so every other write works and only the letter fails.
Swallowing that failure in ``ObjectDeadLetters.send`` (and calling the event dead-lettered) fails these tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escher.demo.events import bucket_made_public
from escher.demo.run import LambdaContext
from escher.pipeline import runtime
from escher.pipeline.errors import DeadLetterError
from escher.pipeline.worker import handle_event

POISON = '{"detail": ' + "[" * 990 + "]" * 990 + "}"  # the measured case: nested ~990 deep


@pytest.fixture
def broken_letters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    state = tmp_path / "state"
    state.mkdir()
    (state / "dead-letters").write_text("a file where the dead-letter folder goes", encoding="utf-8")
    monkeypatch.setenv("ESCHER_STATE_URL", str(state))
    monkeypatch.delenv("ESCHER_DEAD_LETTER_URL", raising=False)
    monkeypatch.setenv("ESCHER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ESCHER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    runtime.reset()
    yield state
    runtime.reset()


def _letters(state: Path) -> list[Path]:
    return [p for p in state.rglob("*") if p.is_file() and p.name != "dead-letters" and "dead" in str(p)]


def test_the_shared_worker_path_raises_when_the_default_dead_letter_cannot_be_written(
    broken_letters: Path,
) -> None:
    with pytest.raises(DeadLetterError, match="cannot park the dead letter"):
        handle_event("aws", POISON, source="sqs")
    assert _letters(broken_letters) == []


def test_an_sqs_batch_reports_exactly_the_message_whose_letter_failed(broken_letters: Path) -> None:
    from escher.workers.aws.handler import handler

    good = {"messageId": "m-good", "body": json.dumps(bucket_made_public("evt-ok", "b1")), "attributes": {}}
    poison = {"messageId": "m-poison", "body": POISON, "attributes": {"ApproximateReceiveCount": "1"}}
    reply = handler({"Records": [good, poison]}, LambdaContext())
    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-poison"}]}
    # the good one was handled (its marker is done), so only the poison comes back
    assert any(p.name.endswith(".json") for p in (broken_letters / "markers").rglob("*"))


def test_an_eventbridge_poison_whose_letter_failed_fails_the_invocation(broken_letters: Path) -> None:
    from escher.workers.aws.handler import handler

    with pytest.raises(DeadLetterError):
        handler({"detail-type": "x", "detail": {"n": 10**5000}}, LambdaContext())


def test_azure_raises_for_event_grid_and_answers_503_to_the_action_group(broken_letters: Path) -> None:
    from escher.workers.azure import handlers

    with pytest.raises(DeadLetterError):
        handlers.on_event_grid(
            {"id": "e", "eventType": "\ud800", "data": {}, "subject": "s", "eventTime": None}
        )
    status, body = handlers.on_action_group(POISON.encode())
    assert status == 503 and body["error"] == "DeadLetterError"


def test_gcp_raises_so_pubsub_redelivers(broken_letters: Path) -> None:
    from cloudevents.http import CloudEvent
    from werkzeug.test import EnvironBuilder

    from escher.workers.gcp.main import on_pubsub, on_schedule

    attributes: dict[str, Any] = {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//t"}
    with pytest.raises(DeadLetterError):
        on_pubsub(CloudEvent(attributes, {"message": {"data": "%%%"}, "subscription": "s", "x": 10**5000}))
    with pytest.raises(DeadLetterError):
        on_schedule(EnvironBuilder(method="POST", data=POISON.encode()).get_request())
