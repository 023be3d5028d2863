"""``escher fix ID``: a finding's 1-click fix, through the operations engine (policy, approvals, audit).

The planning and the running are the core's (:mod:`escher.ops.fix`, which the console's Fix button calls too);
this command shows the plans, asks for the confirmation and words each outcome. Under ``--output json`` it
prints one object for one plan, a list for several (findings needing different operations or sizes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from escher.cli.commands._ops_flow import APPROVE_HELP

if TYPE_CHECKING:
    from escher.ops.engine import Plan
    from escher.policy.runtime import Runtime


def fix(
    ctx: typer.Context,
    finding_ids: list[str] = typer.Argument(None, help="F-... ids from the report or `escher scan`."),
    check: str | None = typer.Option(None, "--check", help="Fix every finding of this check."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and show, change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    approve: str | None = typer.Option(None, "--approve", metavar="REASON", help=APPROVE_HELP),
) -> None:
    """Fix findings with the catalogue operation their check names."""
    from escher.cli._render import print_json, state
    from escher.cli.commands._ops_flow import render_plan
    from escher.ops.fix import plan_fix
    from escher.policy.runtime import open_runtime

    rt = open_runtime()
    rt.self_approval = approve
    plans = plan_fix(rt, list(finding_ids or []), check)
    as_json = state(ctx).json
    shown: list[dict[str, Any]] = []
    code = 0
    for plan in plans:
        if not as_json:
            render_plan(plan)
        data, plan_code = (
            _dry_run(rt, plan, as_json=as_json) if dry_run else _run(rt, plan, yes=yes, as_json=as_json)
        )
        shown.append(data)
        code = max(code, plan_code)
    if as_json:
        print_json(shown[0] if len(shown) == 1 else shown)
    raise typer.Exit(code)


def _dry_run(rt: Runtime, plan: Plan, *, as_json: bool) -> tuple[dict[str, Any], int]:
    from escher.cli.commands._ops_flow import render_result

    result = rt.engine().execute(plan, dry_run=True)
    if not as_json:
        render_result(result)
    return {"plan": plan.to_dict(), "result": result.to_dict()}, 0 if result.ok else 1


def _run(rt: Runtime, plan: Plan, *, yes: bool, as_json: bool) -> tuple[dict[str, Any], int]:
    """The core's run, with the terminal's confirmation; then the outcome as ``escher ops run`` words it."""
    from escher.cli.commands._ops_flow import run_and_word

    return run_and_word(rt, plan, yes=yes, as_json=as_json)
