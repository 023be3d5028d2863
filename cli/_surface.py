"""One CLI surface over every command module: ``-o/--output`` after any command, named metavars, grouped help.

The command modules are written by many hands; rather than asking each to repeat the same option, the root group
walks the finished command tree once (when typer builds it) and:

- gives every command that runs something an ``-o/--output`` option (unless it defines its own), so
  ``escher doctor -o json`` and ``escher -o json doctor`` mean the same;
- names every value placeholder (``--cloud CLOUD``, ``--since WHEN``) instead of typer's ``<list[str]>``;
- prints the root help in sections (daily use, operations, ...) with click's own formatter: typer's rich help
  imports ``rich.markdown`` + ``markdown_it`` (~100 ms), too slow for ``escher --help``.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from escher.cli._render import OutputFormat, WrappingGroup, state

__all__ = ["SECTIONS", "EscherGroup", "output_option"]

# The root help's sections; a command registered later and missing here is still shown, under "More".
SECTIONS: dict[str, tuple[str, ...]] = {
    "Daily use": ("scan", "findings", "report", "fix", "cost", "ask", "chat", "search"),
    "Operations": ("ops", "approvals", "templates", "remediation", "schedule", "run-due", "agent"),
    "Events and alerts": ("alerts", "events", "watch", "notify"),
    "Extend": ("extend", "destroy", "status", "sync", "brain", "mcp"),
    "Administration": ("init", "doctor", "store", "backup", "audit", "demo", "completion"),
}

# Placeholders by option name where the upper-cased name would not say what to type.
_METAVARS: dict[str, str] = {
    "out": "FILE",
    "estate": "FILE",
    "since": "WHEN",
    "until": "WHEN",
    "at": "WHEN",
    "day": "YYYY-MM-DD",
    "date": "YYYY-MM-DD",
    "limit": "N",
    "tz": "ZONE",
    "tag": "KEY=VALUE",
    "param": "NAME=VALUE",
    "var": "NAME=VALUE",
    "reason": "TEXT",
    "note": "TEXT",
    "target": "ID",
    "conversation": "ID",
    "checks": "PATTERNS",
    "brain-url": "URL",
    "allow-host": "HOST",
    "idle-hours": "HOURS",
    "capacity-percent": "PERCENT",
}


def _set_output(ctx: typer.Context, value: str | None) -> None:
    if value is not None:
        state(ctx).output = OutputFormat(value)


def _output_template(
    output: OutputFormat | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FORMAT",
        callback=_set_output,
        expose_value=False,
        help="text or json (same as before the command).",
    ),
) -> None:
    """Only its parameter is used."""


_OUTPUT_PARAM: Any = None


def output_option() -> Any:
    """The ``-o/--output`` parameter every command shares (built once, from a typed signature)."""
    global _OUTPUT_PARAM
    if _OUTPUT_PARAM is None:
        holder = typer.Typer(add_completion=False)
        holder.command()(_output_template)
        _OUTPUT_PARAM = typer.main.get_command(holder).params[0]
    return _OUTPUT_PARAM


def _metavar(param: Any) -> str:
    long = next((o for o in param.opts if o.startswith("--")), param.opts[0] if param.opts else "")
    name = long.lstrip("-") or (param.name or "value")
    return _METAVARS.get(name, name.upper().replace("-", "_"))


def _name_placeholders(command: Any) -> None:
    for param in command.params:
        if param.param_type_name == "argument":
            if param.metavar is None or param.metavar.islower():
                param.metavar = (param.name or "value").upper()
            # the name is the placeholder; typer would add "<str>" after it
            param.display_type_rich = lambda ctx: None
        elif (
            param.param_type_name == "option"
            and not param.is_flag
            and not param.count
            and param.metavar is None
            and not param.type_descriptor.is_choice
        ):
            param.metavar = _metavar(param)


def _runs_something(command: Any) -> bool:
    return not hasattr(command, "commands") or bool(getattr(command, "invoke_without_command", False))


def prepare(command: Any) -> None:
    """Give ``command`` and everything under it the shared surface (idempotent)."""
    _name_placeholders(command)
    if type(command) is TyperGroup:  # a group built without sub_app(): list its commands the same way
        command.__class__ = WrappingGroup  # a subclass that adds no state, only format_commands
    taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    if _runs_something(command) and not taken & {
        "-o",
        "--output",
    }:  # its own -o/--output (scan, findings) stays
        command.params.append(output_option())
    for sub in getattr(command, "commands", {}).values():
        prepare(sub)


class EscherGroup(WrappingGroup):
    """The root group: prepares the tree once built, and lists its commands in sections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for sub in self.commands.values():
            prepare(sub)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        names = [n for n in self.commands if not self.commands[n].hidden]
        if not names:
            return
        width = max(len(n) for n in names)
        placed = {n for section in SECTIONS.values() for n in section}
        for title, section in [*SECTIONS.items(), ("More", tuple(n for n in names if n not in placed))]:
            self.write_commands(formatter, title, list(section), width)
