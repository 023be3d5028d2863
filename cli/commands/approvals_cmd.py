"""``escher approvals``: requests to run steps that need approval; another manager approves or rejects them, then
``escher approvals run ID`` runs exactly what was approved (once, before it expires)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from escher.cli._render import console, emit, sub_app
from escher.cli.commands._ops_flow import APPROVE_HELP
from escher.cli.commands.sync_cmd import NO_SYNC, held_to_approval, synced_runtime

app = sub_app("Approval requests: list them; managers approve or reject; run what was approved.")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str = typer.Option("", "--status", help="pending, approved, rejected, executed or expired."),
    no_sync: bool = NO_SYNC,
) -> None:
    """List approval requests (oldest first), the extension's too (synced first)."""
    items = synced_runtime(no_sync).approvals.list(status or None)  # type: ignore[arg-type]

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


def _decide(ctx: typer.Context, request_id: str, note: str, approve: bool, no_sync: bool = False) -> None:
    rt = synced_runtime(no_sync)
    decide = rt.approvals.approve if approve else rt.approvals.reject
    req = decide(request_id, by=rt.actor, note=note)
    then = f"run it with 'escher approvals run {req.request_id}'" if approve else "nothing will run"
    emit(
        ctx,
        {**req.model_dump(mode="json"), "next_step": then},
        lambda: console().print(f"{req.request_id}: [bold]{req.status}[/] by {req.decided_by}; {then}"),
    )


@app.command("approve")
def approve(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., metavar="ID"),
    note: str = typer.Option("", "--note"),
    no_sync: bool = NO_SYNC,
) -> None:
    """Approve a pending request (managers only; not your own). One raised by the extension is approved there
    too (a signed grant its worker carries out on its next run)."""
    _decide(ctx, request_id, note, approve=True, no_sync=no_sync)


@app.command("reject")
def reject(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., metavar="ID"),
    note: str = typer.Option("", "--note", help="Why: shown to the requester."),
    no_sync: bool = NO_SYNC,
) -> None:
    """Reject a pending request (managers only)."""
    _decide(ctx, request_id, note, approve=False, no_sync=no_sync)


@app.command("run")
def run(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., metavar="ID"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and show; change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (needed without a terminal)."),
    approve: str | None = typer.Option(None, "--approve", metavar="REASON", help=APPROVE_HELP),
    no_sync: bool = NO_SYNC,
) -> None:
    """Run an approved request: exactly its operation, parameters and targets, once, before it expires.

    Each target is read again now; one that no longer needs the change is a no-op. In single-operator mode,
    ``--approve "reason"`` approves your own pending request and runs it."""
    from escher.cli.commands._ops_flow import run_flow
    from escher.ops.model import OPERATIONS, Target
    from escher.policy.errors import ApprovalError, AwaitingApprovalError

    rt = synced_runtime(no_sync)
    held_to_approval(rt, request_id)
    req = rt.approvals.get(request_id)
    status = req.status_at(datetime.now(UTC))
    if status == "pending" and approve is None:
        raise AwaitingApprovalError(
            f"approval request {request_id} is still pending: nothing was run",
            hint=rt.gate().next_step(request_id),
        )
    if status not in ("pending", "approved"):
        raise ApprovalError(
            f"approval request {request_id} is {status}: it cannot run",
            hint="run the original command again to make a new request",
        )
    rt.approval_id, rt.self_approval = request_id, approve
    op = OPERATIONS.get(req.operation)
    targets = [
        Target(op.cloud, rid, region or None)
        for rid, _, region in (t.rpartition("@") if "@" in t else (t, "", "") for t in req.targets)
    ]
    engine = rt.engine()
    reason = f"{req.reason} (approval {request_id})".strip()
    plan = engine.plan(op.id, targets, req.params, actor=str(rt.actor), reason=reason)
    run_flow(ctx, rt, plan, engine, dry_run=dry_run, yes=yes)
