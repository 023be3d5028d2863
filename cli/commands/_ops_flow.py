"""The shared flow of ``escher ops run``, ``fix``, ``templates run`` and ``approvals run``: plan, show, gate, ask,
execute, show.

A step the gate holds for approval never runs here on ``--yes`` or a "y": an approval request is made (exit 5)
and the message says who approves it and how it then runs. ``--approve "reason"`` (single-operator mode) is the
person's own recorded approval, and answers the confirmation too.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, state

APPROVE_HELP = (
    "Approve a step that needs approval yourself, with this reason (single-operator mode only: recorded in the "
    "audit ledger as a self-approval). --yes never approves."
)

if TYPE_CHECKING:
    from escher.ops.engine import Engine, Plan, RunResult
    from escher.policy.runtime import Runtime
    from escher.policy.templates import Template


def render_plan(plan: Plan) -> None:
    from rich.markup import escape
    from rich.table import Table

    op = plan.operation
    table = Table(title=f"plan {plan.plan_id[:12]}: {op.id} ({op.risk.value} risk)")
    for col in ("target", "region", "will", "now", "wanted"):
        table.add_column(col)
    for c in plan.changes:
        now = c.error or ", ".join(f"{k}={v}" for k, v in (c.before or {}).items() if k in c.wanted)
        wanted = ", ".join(f"{k}={v}" for k, v in c.wanted.items())
        table.add_row(
            escape(c.target.resource_id), c.target.region or "", c.action, escape(now), escape(wanted)
        )
    console().print(table)
    for c in plan.to_change[:3]:
        console().print(f"[dim]$ {escape(c.cli)}[/]")


def render_result(result: RunResult) -> None:
    from rich.markup import escape

    style = {"verified": "green", "noop": "green", "dry_run": "cyan"}
    for r in result.results:
        colour = style.get(r.outcome, "red")
        detail = r.error or ""
        if r.details.get("evidence"):
            detail += f" evidence: {r.details['evidence']['mismatched']}"
        console().print(f"[{colour}]{r.outcome:>13}[/] {escape(str(r.target))} {escape(detail)}")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items()))
    console().print(f"[bold]{'done' if result.ok else 'NOT all done'}:[/] {counts}")


def plan_from_cli(
    rt: Runtime,
    engine: Engine,
    operation_id: str,
    targets: list[str],
    tags: list[str],
    regions: list[str],
    params: dict[str, Any],
    reason: str,
) -> Plan:
    from escher.ops.model import OPERATIONS
    from escher.policy.runtime import parse_assignments

    op = OPERATIONS.get(operation_id)
    tag_filter = {k: str(v) for k, v in parse_assignments(tags, "tag").items()}
    resolved = engine.resolve_targets(op, targets, tags=tag_filter, regions=regions)
    return engine.plan(op.id, resolved, params, actor=str(rt.actor), reason=reason)


def run_flow(
    ctx: typer.Context,
    rt: Runtime,
    plan: Plan,
    engine: Engine,
    *,
    dry_run: bool,
    yes: bool,
    template: Template | None = None,
) -> None:
    from rich.markup import escape

    from escher.policy.gate import plan_targets

    as_json = state(ctx).json
    if not as_json:
        render_plan(plan)
    if dry_run:
        result = engine.execute(plan, dry_run=True)
        emit(ctx, {"plan": plan.to_dict(), "result": result.to_dict()}, lambda: render_result(result))
        raise typer.Exit(0 if result.ok else 1)
    if not plan.to_change:
        result = engine.execute(plan)  # re-checks each target and records the no-ops
        emit(ctx, {"plan": plan.to_dict(), "result": result.to_dict()}, lambda: render_result(result))
        raise typer.Exit(0 if result.ok else 1)
    gate = rt.gate(template)
    decision = gate.decide(plan)
    if not decision.allowed:
        if decision.needs_approval and template is None and rt.approval_id is None:
            req = rt.approvals.request(
                plan.operation.id,
                plan_targets(plan),
                plan.params.model_dump(mode="json"),
                by=rt.actor,
                reason=plan.reason,
            )
            data = {
                "plan": plan.to_dict(),
                "executed": False,
                "needs_approval": decision.reason,
                "approval_request": req.model_dump(mode="json"),
                "next_step": gate.next_step(req.request_id),
            }
            emit(
                ctx,
                data,
                lambda: console().print(
                    f"[yellow]Not executed: {escape(decision.reason)}.[/]\nApproval request "
                    f"[bold]{req.request_id}[/] created: {escape(gate.next_step(req.request_id))}."
                ),
            )
            raise typer.Exit(5)
        hint = (
            f"change the run to fit the template (see 'escher templates list'), or run {plan.operation.id} "
            "with 'escher ops run' to ask for an approval instead"
            if template is not None
            else ""
        )
        emit(
            ctx,
            {"plan": plan.to_dict(), "executed": False, "refused": decision.reason, "next_step": hint},
            lambda: console().print(
                f"[bold red]Refused:[/] {escape(decision.reason)}"
                + (f"\n[yellow]{escape(hint)}[/]" if hint else "")
            ),
        )
        raise typer.Exit(4)
    if not yes and rt.self_approval is None:
        if not sys.stdin.isatty():
            emit(
                ctx,
                {"plan": plan.to_dict(), "executed": False, "reason": "no TTY to confirm and no --yes"},
                lambda: console().print("[yellow]Not executed:[/] no terminal to confirm on; pass --yes."),
            )
            raise typer.Exit(1)
        if not typer.confirm(
            f"Apply {plan.operation.id} to {len(plan.to_change)} resource(s)?", default=False
        ):
            console().print("Nothing done.")
            raise typer.Exit(1)
    result = engine.execute(plan)
    emit(ctx, {"plan": plan.to_dict(), "result": result.to_dict()}, lambda: render_result(result))
    raise typer.Exit(0 if result.ok else 1)
