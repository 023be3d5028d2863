"""``escher approvals``: requests to run high-risk operations; managers approve or reject them."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, sub_app

app = sub_app("Approval requests: list them; managers approve or reject.")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str = typer.Option("", "--status", help="pending, approved, rejected, executed or expired."),
) -> None:
    """List approval requests (oldest first)."""
    from escher.policy.runtime import open_runtime

    items = open_runtime().approvals.list(status or None)  # type: ignore[arg-type]

    def text() -> None:
        from datetime import UTC, datetime

        from rich.table import Table

        now = datetime.now(UTC)
        table = Table(title=f"{len(items)} approval request(s)")
        for col in ("id", "status", "operation", "targets", "by", "expires"):
            table.add_column(col)
        for r in items:
            table.add_row(
                r.request_id,
                r.status_at(now),
                r.operation,
                ", ".join(r.targets),
                r.requested_by,
                r.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            )
        console().print(table)

    emit(ctx, [r.model_dump(mode="json") for r in items], text)


def _decide(ctx: typer.Context, request_id: str, note: str, approve: bool) -> None:
    from escher.policy.runtime import open_runtime

    rt = open_runtime()
    decide = rt.approvals.approve if approve else rt.approvals.reject
    req = decide(request_id, by=rt.actor, note=note)
    emit(
        ctx,
        req.model_dump(mode="json"),
        lambda: console().print(f"{req.request_id}: [bold]{req.status}[/] by {req.decided_by}"),
    )


@app.command("approve")
def approve(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., metavar="ID"),
    note: str = typer.Option("", "--note"),
) -> None:
    """Approve a pending request (managers only; not your own)."""
    _decide(ctx, request_id, note, approve=True)


@app.command("reject")
def reject(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., metavar="ID"),
    note: str = typer.Option("", "--note", help="Why: shown to the requester."),
) -> None:
    """Reject a pending request (managers only)."""
    _decide(ctx, request_id, note, approve=False)
