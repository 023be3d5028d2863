"""JSON: the report as stored."""

from __future__ import annotations

import json

from escher.report.model import MorningReport


def render(report: MorningReport, fmt: str) -> bytes:
    return json.dumps(report.to_dict(), indent=2, default=str).encode()
