"""The generated parts of docs/events.md: the JSON Schema, the event-type vocabulary and the normalizer list.

``python -m escher.events.docs docs/events.md`` rewrites the blocks between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->``; a unit test fails when the committed copy is stale.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from escher.events._base import NORMALIZERS
from escher.events.model import EVENT_TYPE_DOCS, EventType, UnifiedEvent

__all__ = ["blocks", "update"]


def blocks() -> dict[str, str]:
    schema = json.dumps(UnifiedEvent.model_json_schema(), indent=2, sort_keys=True)
    vocabulary = "\n".join(
        ["| event_type | meaning |", "|---|---|"]
        + [f"| `{t.value}` | {EVENT_TYPE_DOCS[t]} |" for t in EventType]
    )
    rows = ["| key | source kind | event types | sample shape from |", "|---|---|---|---|"]
    for key, entry in NORMALIZERS.items():
        types = ", ".join(f"`{t.value}`" for t in entry.event_types)
        rows.append(f"| `{key}` | {entry.source_kind} | {types} | <{entry.docs}> |")
    return {"schema": f"```json\n{schema}\n```", "vocabulary": vocabulary, "normalizers": "\n".join(rows)}


def _replacer(body: str) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        return m.group(1) + body + "\n" + m.group(2)

    return replace


def update(text: str) -> str:
    for name, body in blocks().items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"docs file has no <!-- generated:{name} --> block")
        text = pattern.sub(_replacer(body), text)
    return text


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events.md")
    target.write_text(update(target.read_text(encoding="utf-8")), encoding="utf-8")
