"""docs/events.md publishes the JSON Schema generated from the model; the copy must be current."""

from __future__ import annotations

import json
import re
from pathlib import Path

from escher.events import UnifiedEvent
from escher.events.docs import update

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events.md"


def test_docs_generated_blocks_are_current() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert update(text) == text, "docs/events.md is stale: run python -m escher.events.docs docs/events.md"


def test_docs_schema_is_the_models_schema() -> None:
    block = re.search(
        r"<!-- generated:schema -->\n```json\n(.*?)\n```", DOCS.read_text(encoding="utf-8"), re.S
    )
    assert block is not None
    schema = json.loads(block.group(1))
    assert schema == UnifiedEvent.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"event_id", "event_type", "severity", "cloud_provider", "timestamp"}
