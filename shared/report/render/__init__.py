"""Renderers: one module per format, each ``render(report) -> bytes``; heavy libraries load inside them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.report.model import MorningReport

__all__ = ["FORMATS", "UnknownFormatError", "render"]

FORMATS = {
    "md": "markdown",
    "markdown": "markdown",
    "html": "html",
    "pdf": "pdf",
    "csv": "tabular",
    "xlsx": "tabular",
    "json": "data",
    "ocsf": "ocsf",
    "text": "terminal",
}


class UnknownFormatError(EscherError):
    exit_code = 2


def render(report: MorningReport, fmt: str) -> bytes:
    module = FORMATS.get(fmt)
    if module is None:
        raise UnknownFormatError(
            f"unknown report format {fmt!r}", hint=f"use one of: {', '.join(sorted(FORMATS))}"
        )
    mod = importlib.import_module(f"escher.report.render.{module}")
    out: bytes = mod.render(report, fmt)
    return out
