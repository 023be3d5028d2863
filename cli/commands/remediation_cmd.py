"""``escher remediation``: the setup wizard's pre-approved auto-remediation switches (all off by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, sub_app

if TYPE_CHECKING:
    from escher.policy.remediation import RemediationSettings

app = sub_app("Pre-approved auto-remediation: list the switches; managers turn them on or off.")

NAME = typer.Argument(
    ..., metavar="NAME", help="A switch, e.g. stop_idle_instances ('escher remediation list')."
)
IDLE_HOURS = typer.Option(
    None, "--idle-hours", help="stop_idle_instances: hours idle before an instance is stopped."
)
CAPACITY = typer.Option(
    None, "--capacity-percent", help="scale_up_near_capacity: utilisation that counts as near capacity."
)


def _rows(settings: RemediationSettings) -> list[dict[str, Any]]:
    from escher.policy.remediation import SWITCHES, THRESHOLDS

    rows = []
    for switch in SWITCHES:
        threshold = THRESHOLDS.get(switch.setting)
        rows.append(
            {
                "name": switch.setting,
                "label": switch.label,
                "enabled": bool(getattr(settings, switch.setting)),
                "threshold": {threshold: getattr(settings, threshold)} if threshold else None,
                "operations": list(switch.operations),
            }
        )
    return rows


def _render(rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="auto-remediation: fixes that run on matching events without asking")
    table.add_column("name", no_wrap=True)
    table.add_column("on", no_wrap=True)
    table.add_column("threshold", no_wrap=True)
    table.add_column("what it does")
    for row in rows:
        threshold = ", ".join(f"{k}={v:g}" for k, v in (row["threshold"] or {}).items())
        table.add_row(
            row["name"], "[green]on[/]" if row["enabled"] else "off", threshold, escape(row["label"])
        )
    console().print(table)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Show the six switches: on or off and their thresholds (with -o json: the operations each covers)."""
    from escher.config import load_settings
    from escher.policy.remediation import load_remediation

    rows = _rows(load_remediation(load_settings().extensions))
    emit(ctx, rows, lambda: _render(rows))


def _switch(
    ctx: typer.Context, name: str, enabled: bool, idle_hours: float | None, capacity: float | None
) -> None:
    from escher.config import load_settings, resolve_paths
    from escher.policy.errors import PolicyError
    from escher.policy.personas import current_actor
    from escher.policy.remediation import find_switch, load_remediation, save_remediation, set_switch

    paths = resolve_paths()
    settings = load_settings(paths)
    actor = current_actor(settings.extensions)
    if not actor.is_manager:
        raise PolicyError(
            f"{actor.name} is not a manager: only managers change which fixes run without asking",
            hint="ask a manager (the [personas] managers list in the config)",
        )
    switch = find_switch(name)
    updated = set_switch(
        load_remediation(settings.extensions),
        switch.setting,
        enabled,
        idle_hours=idle_hours,
        capacity_percent=capacity,
    )
    from escher.audit import AuditRecord
    from escher.audit.ledger import recorded

    with recorded(paths) as ledger:  # a policy change is an act: recorded before it is reported done
        _ = ledger.store  # the ledger is reachable before anything changes
        save_remediation(paths, updated)
        ledger.append(
            AuditRecord(
                actor=str(actor),
                action=f"remediation.{'enable' if enabled else 'disable'}",
                target=f"remediation/{switch.setting}",
                outcome="succeeded",
                reason=switch.label,
                before={"enabled": bool(getattr(load_remediation(settings.extensions), switch.setting))},
                after={"enabled": enabled, "idle_hours": idle_hours, "capacity_percent": capacity},
                details={"operations": list(switch.operations), "config_file": str(paths.config_file)},
            )
        )
    (row,) = [r for r in _rows(updated) if r["name"] == switch.setting]

    def text() -> None:
        state = "[green]on[/]" if enabled else "off"
        extra = ", ".join(f"{k}={v:g}" for k, v in (row["threshold"] or {}).items())
        console().print(
            f"{switch.setting}: {state}{f' ({extra})' if extra else ''}; saved to {paths.config_file}"
        )

    emit(ctx, {**row, "config_file": str(paths.config_file)}, text)


@app.command("enable")
def enable(
    ctx: typer.Context,
    name: str = NAME,
    idle_hours: float | None = IDLE_HOURS,
    capacity: float | None = CAPACITY,
) -> None:
    """Turn a switch on: its fixes then run on matching events without asking (managers only)."""
    _switch(ctx, name, True, idle_hours, capacity)


@app.command("disable")
def disable(
    ctx: typer.Context,
    name: str = NAME,
    idle_hours: float | None = IDLE_HOURS,
    capacity: float | None = CAPACITY,
) -> None:
    """Turn a switch off: its fixes need a person again (managers only). Thresholds are kept."""
    _switch(ctx, name, False, idle_hours, capacity)
