"""SQS batches through powertools' BatchProcessor: each message succeeds or fails on its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escher.demo.events import bucket_made_public
from escher.demo.run import LambdaContext
from escher.pipeline import runtime
from escher.pipeline.deadletter import MemoryDeadLetters
from escher.workers.aws.handler import handler
from tests.unit.workers.fuzz_run import NoCloud


@pytest.fixture
def memory_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryDeadLetters]:
    (tmp_path / "config.toml").write_text("[remediation]\nmake_public_buckets_private = true\n")
    for name, value in {"ESCHER_CONFIG_DIR": str(tmp_path), "ESCHER_DATA_DIR": str(tmp_path),
                        "ESCHER_STATE_URL": "memory://", "POWERTOOLS_METRICS_DISABLED": "true"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ESCHER_DEAD_LETTER_URL", raising=False)
    letters = MemoryDeadLetters()
    runtime.reset()
    with runtime.override("aws", dead_letters=letters, cloud=NoCloud()):
        yield letters
    runtime.reset()


def message(message_id: str, body: str, attributes: Any = None) -> dict[str, Any]:
    return {"messageId": message_id, "body": body, "attributes": attributes or {}, "eventSource": "aws:sqs"}


def test_a_message_that_breaks_the_pipeline_is_redelivered_alone(memory_worker: MemoryDeadLetters) -> None:
    # a pre-approved fix whose cloud client cannot be built (a bug, not bad input) next to a poison message
    records = [
        message("m-fix", json.dumps(bucket_made_public("evt-fix", "b"))),
        message("m-poison", '{"n": ' + "1" * 5000 + "}", attributes="not a map"),
    ]
    reply = handler({"Records": records}, LambdaContext())
    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-fix"}]}
    [letter] = memory_worker.letters
    assert "integer of 5,000 digits" in letter.reason and letter.attempts is None


def test_a_batch_that_all_fails_is_answered_per_message_not_raised(memory_worker: MemoryDeadLetters) -> None:
    records = [message(f"m-{i}", json.dumps(bucket_made_public(f"evt-{i}", "b"))) for i in range(3)]
    reply = handler({"Records": records}, LambdaContext())
    assert reply == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in range(3)]}


def test_records_that_are_not_sqs_messages_are_parked_with_the_reason(
    memory_worker: MemoryDeadLetters,
) -> None:
    reply = handler({"Records": [{"messageId": "m-1", "body": {"an": "object"}}, "text", 7]}, LambdaContext())
    assert reply == {"batchItemFailures": []}
    reasons = [letter.reason for letter in memory_worker.letters]
    assert reasons[0] == "the SQS record's body is dict, not a string"
    assert reasons[1:] == ["the SQS record is str, not an object", "the SQS record is int, not an object"]
