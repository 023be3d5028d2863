"""How the CLI shows things: rich for people, JSON for scripts (``--output json``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.console import Console

    from escher.errors import EscherError


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass
class CliState:
    output: OutputFormat = OutputFormat.text

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.json


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


_console: Console | None = None
_err_console: Console | None = None


def console() -> Console:
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console()
    return _console


def err_console() -> Console:
    global _err_console
    if _err_console is None:
        from rich.console import Console

        _err_console = Console(stderr=True)
    return _err_console


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    return str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_default, sort_keys=False) + "\n")


def emit(ctx: typer.Context, data: Any, render_text: Callable[[], None]) -> None:
    """Print ``data`` as JSON under ``--output json``, else call ``render_text``."""
    if state(ctx).json:
        print_json(data)
    else:
        render_text()


def show_error(exc: EscherError, *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(exc.to_dict()) + "\n")
        return
    from rich.markup import escape

    err_console().print(f"[bold red]Error:[/] {escape(exc.message)}")
    if exc.hint:
        err_console().print(f"[yellow]What to do:[/] {escape(exc.hint)}")


class WrappingGroup(TyperGroup):
    """Lists its commands with their whole first sentence, wrapped: click cuts it with "..." at 80 columns."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        self.write_commands(formatter, "Commands", list(self.commands))

    def write_commands(self, formatter: Any, title: str, names: list[str], width: int = 0) -> None:
        shown = [n for n in names if n in self.commands and not self.commands[n].hidden]
        if shown:
            width = width or max(len(n) for n in shown)  # one width, so that sections line up
            with formatter.section(title):
                formatter.write_dl(
                    [(n.ljust(width), self.commands[n].get_short_help_str(limit=1000)) for n in shown]
                )


def sub_app(help: str) -> typer.Typer:
    """A command group that renders help like the root app (plain and fast; see cli/main.py)."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        cls=WrappingGroup,
    )
