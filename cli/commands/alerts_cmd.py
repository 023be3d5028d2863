"""``escher alerts``: the open alerts as banners, ``ack ID``, and ``timeline ID`` from the audit records.

Alerts are read from the state storage (``ESCHER_STATE_URL``, else ``<data dir>/state``), audit records from
``ESCHER_AUDIT_URL`` when set (the WORM audit bucket in Extend mode), else the state storage: where the workers
and ``escher demo`` write them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from escher.cli._render import console, emit
from escher.cli.commands.sync_cmd import NO_SYNC, auto_sync

if TYPE_CHECKING:
    from escher.alerts.store import AlertStore
    from escher.audit.objects import ObjectAuditSink

app = typer.Typer(
    help="Real-time alerts: banners, acknowledgement, the incident timeline.",
    invoke_without_command=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _stores() -> tuple[AlertStore, ObjectAuditSink]:
    from escher.alerts.store import AlertStore
    from escher.audit.objects import ObjectAuditSink
    from escher.config import load_settings
    from escher.pipeline.runtime import audit_objects, state_objects

    extensions = load_settings().extensions
    # the audit records are where the workers wrote them: ESCHER_AUDIT_URL, else the state storage
    return AlertStore(state_objects(extensions=extensions)), ObjectAuditSink(
        audit_objects(extensions=extensions)
    )


def render_banners(alerts: list[object]) -> None:
    from rich.panel import Panel
    from rich.text import Text

    from escher.alerts.model import Alert
    from escher.alerts.views import banner

    now = datetime.now(UTC)
    for alert in alerts:
        assert isinstance(alert, Alert)
        b = banner(alert, now)
        body = Text("\n".join(b.lines))
        body.append("\n\n" + "  ".join(f"[{a}]" for a in b.actions), style="bold")
        console().print(Panel(body, title=Text(b.header, style=f"bold {b.style}"), border_style=b.style))


@app.callback()
def alerts(
    ctx: typer.Context,
    include_all: bool = typer.Option(False, "--all", help="Include acknowledged alerts."),
    no_sync: bool = NO_SYNC,
) -> None:
    """Show the open alerts, most severe first, as banners (the extension's are synced first)."""
    auto_sync(no_sync)
    if ctx.invoked_subcommand is not None:
        return
    store, _ = _stores()
    found = store.list(include_acknowledged=include_all)

    def text() -> None:
        if not found:
            console().print("[green]No open alerts.[/]" if not include_all else "No alerts.")
            return
        render_banners(list(found))

    emit(ctx, [a.model_dump(mode="json") for a in found], text)


@app.command("ack")
def ack(ctx: typer.Context, alert_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Acknowledge an alert: it leaves the banners (``--all`` still lists it)."""
    from escher.policy.personas import current_actor

    store, _ = _stores()
    who = current_actor({}).name
    alert = store.acknowledge(alert_id, by=who)

    def text() -> None:
        console().print(f"Acknowledged {alert.alert_id} ({alert.title}) as {alert.acknowledged_by}.")

    emit(ctx, alert.model_dump(mode="json"), text)


@app.command("timeline")
def timeline(ctx: typer.Context, alert_id: str = typer.Argument(..., metavar="ID")) -> None:
    """The incident's timeline, from its audit records: event, receipt, decision, fix, verification."""
    from escher.alerts.views import timeline as build

    store, audit = _stores()
    alert = store.get(alert_id)
    entries = build(alert, audit.records(alert.correlation_id))

    def text() -> None:
        from rich.markup import escape

        console().print(f"[bold]{escape(alert.title)}[/] ({alert.severity}, {alert.status})")
        for entry in entries:
            console().print(f"{entry.at:%H:%M:%S.%f}"[:-3] + f"  {escape(entry.what)}")
        if alert.exposure_seconds is not None:
            console().print(f"\n[bold]Event to verified fix: {alert.exposure_seconds:.3f} s[/]")

    emit(
        ctx,
        {"alert": alert.model_dump(mode="json"), "timeline": [e.to_dict() for e in entries]},
        text,
    )
