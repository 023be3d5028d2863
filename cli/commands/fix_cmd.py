"""``escher fix ID``: a finding's 1-click fix, through the operations engine (policy, approvals, audit)."""

from __future__ import annotations

from typing import cast

import typer

from escher.cli.commands._ops_flow import APPROVE_HELP
from escher.errors import EscherError


class NoFixError(EscherError):
    exit_code = 2


def fix(
    ctx: typer.Context,
    finding_ids: list[str] = typer.Argument(None, help="F-... ids from the report or `escher scan`."),
    check: str | None = typer.Option(None, "--check", help="Fix every finding of this check."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and show, change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    approve: str | None = typer.Option(None, "--approve", metavar="REASON", help=APPROVE_HELP),
) -> None:
    """Fix findings with the catalogue operation their check names."""
    from escher.cli.commands._ops_flow import run_flow
    from escher.ops.model import Cloud, Target
    from escher.policy.runtime import open_runtime
    from escher.scans.fix import findings_to_fix

    rt = open_runtime()
    rt.self_approval = approve
    groups = findings_to_fix(list(finding_ids or []), check)
    engine = rt.engine()
    for (operation, params_key), findings in groups.items():
        targets = [
            Target(
                cast(Cloud, f.cloud),
                f.fix_target or f.resource_id,
                f.region if f.region != "global" else None,
            )
            for f in findings
        ]
        reason = "fix " + ", ".join(f.id for f in findings)
        plan = engine.plan(operation, targets, dict(params_key), actor=str(rt.actor), reason=reason)
        run_flow(ctx, rt, plan, engine, dry_run=dry_run, yes=yes)
