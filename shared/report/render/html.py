"""HTML: one self-contained page from a Jinja2 template (inline CSS and SVG, one small script for the copy
buttons; nothing fetched). A user's own ``<config dir>/templates/report.html.j2`` replaces the built-in one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from escher.lazy import require
from escher.report.model import MorningReport
from escher.report.render.content import page

__all__ = ["TEMPLATE", "html", "template_dirs"]

TEMPLATE = "report.html.j2"
_BUILT_IN = Path(__file__).resolve().parent.parent / "templates"


def template_dirs() -> list[Path]:
    """Where templates are looked up, first hit wins: the user's templates dir, then Escher's own."""
    from escher.config import resolve_paths

    return [resolve_paths().config_dir / "templates", _BUILT_IN]


def _environment(dirs: list[Path]) -> Any:
    jinja2 = require("jinja2", "report")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a typo in a user's template fails loudly, not as blank text
    )


def html(report: MorningReport, dirs: list[Path] | None = None) -> str:
    env = _environment(dirs if dirs is not None else template_dirs())
    out: str = env.get_template(TEMPLATE).render(page=page(report), report=report)
    return out


def render(report: MorningReport, fmt: str) -> bytes:
    return html(report).encode()
