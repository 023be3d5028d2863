"""The sample payloads under samples/<cloud>/ and their expected events (``<name>.expected.json``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"
# Payloads without a time of their own (Azure budget alerts) take the receipt time: fixed for the goldens.
RECEIVED_AT = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)


def sample_paths() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*/*.json") if not p.name.endswith(".expected.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def expected_path(path: Path) -> Path:
    return path.with_name(path.stem + ".expected.json")


def sample(cloud: str, name: str) -> Any:
    return load(SAMPLES / cloud / f"{name}.json")
