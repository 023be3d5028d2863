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
    """Show ``plan``, then dry-run it or run it through the core (:func:`escher.ops.fix.run_plan`, the path
    `escher fix` and the console take too) and word the outcome; exits with its code."""
    as_json = state(ctx).json
    if not as_json:
        render_plan(plan)
    if dry_run:
        result = engine.execute(plan, dry_run=True)
        emit(ctx, {"plan": plan.to_dict(), "result": result.to_dict()}, lambda: render_result(result))
        raise typer.Exit(0 if result.ok else 1)
    data, code = run_and_word(rt, plan, yes=yes, as_json=as_json, template=template)
    if as_json:
        from escher.cli._render import print_json

        print_json(data)
    raise typer.Exit(code)


# the exit codes of a run: 5 held for approval, 4 refused, 1 not (all) done
EXIT_CODES = {"executed": 0, "nothing": 0, "needs_approval": 5, "refused": 4, "failed": 1, "declined": 1}


def run_and_word(
    rt: Runtime, plan: Plan, *, yes: bool, as_json: bool, template: Template | None = None
) -> tuple[dict[str, Any], int]:
    """The core's run with the terminal's confirmation (never without a TTY unless --yes or a recorded
    self-approval); then the outcome as data and, in text mode, printed. Returns (data, exit code)."""
    from rich.markup import escape

    from escher.ops.fix import run_plan

    no_tty = False

    def ask(plan: Plan) -> bool:
        nonlocal no_tty
        if yes or rt.self_approval is not None:
            return True
        if not sys.stdin.isatty():
            no_tty = True
            return False
        return typer.confirm(
            f"Apply {plan.operation.id} to {len(plan.to_change)} resource(s)?", default=False
        )

    out = run_plan(rt, plan, confirm=ask, template=template)
    data: dict[str, Any] = {"plan": plan.to_dict()}
    say: str
    if out.result is not None:
        data["result"] = out.result.to_dict()
        if not as_json:
            render_result(out.result)
        return data, EXIT_CODES[out.kind]
    if out.kind == "needs_approval" and out.request is not None:
        data |= {
            "executed": False,
            "needs_approval": out.reason,
            "approval_request": out.request.model_dump(mode="json"),
            "next_step": out.next_step,
        }
        say = (
            f"[yellow]Not executed: {escape(out.reason)}.[/]\nApproval request "
            f"[bold]{out.request_id}[/] created: {escape(out.next_step)}."
        )
    elif out.kind == "refused":
        hint = (
            f"change the run to fit the template (see 'escher templates list'), or run {plan.operation.id} "
            "with 'escher ops run' to ask for an approval instead"
            if template is not None
            else ""
        )
        data |= {"executed": False, "refused": out.reason, "next_step": hint}
        say = f"[bold red]Refused:[/] {escape(out.reason)}" + (f"\n[yellow]{escape(hint)}[/]" if hint else "")
    elif no_tty:
        data |= {"executed": False, "reason": "no TTY to confirm and no --yes"}
        say = "[yellow]Not executed:[/] no terminal to confirm on; pass --yes."
    else:
        data |= {"executed": False, "reason": "not confirmed"}
        say = "Nothing done."
    if not as_json:
        console().print(say)
    return data, EXIT_CODES[out.kind]
