"""``escher ops``: the operations catalogue, plans and runs."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, sub_app
from escher.cli.commands._ops_flow import APPROVE_HELP

app = sub_app("The operations catalogue: list, show, plan and run operations on AWS, Azure and GCP.")

TARGET = typer.Option([], "--target", "-t", help="A resource id (repeatable).")
TAG = typer.Option([], "--tag", help="Select targets by tag KEY=VALUE (repeatable; ANDed).")
REGION = typer.Option([], "--region", "-r", help="Region(s) to act in (repeatable).")
PARAM = typer.Option([], "--param", "-p", help="Operation parameter KEY=VALUE (repeatable; a.b=v nests).")
REASON = typer.Option("", "--reason", help="Why: kept in the audit record.")


@app.command("list")
def list_(ctx: typer.Context, cloud: str = typer.Option("", "--cloud", help="aws, azure or gcp.")) -> None:
    """List the operations Escher can run."""
    from escher.ops.model import OPERATIONS

    ops = [op for _, op in OPERATIONS.items(f"{cloud}." if cloud else "")]

    def text() -> None:
        from rich.table import Table

        table = Table(title=f"{len(ops)} operations")
        table.add_column("id", no_wrap=True)
        for col in ("risk", "approval", "description"):
            table.add_column(col)
        for op in ops:
            table.add_row(op.id, op.risk.value, "yes" if op.approval_required else "no", op.description)
        console().print(table)

    emit(ctx, [op.describe() for op in ops], text)


@app.command("show")
def show(ctx: typer.Context, operation_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Show one operation: parameters, risk, permissions, the equivalent CLI command."""
    from escher.ops.model import OPERATIONS

    info = OPERATIONS.get(operation_id).describe()

    def text() -> None:
        from rich.markup import escape

        for key in ("id", "description", "risk", "mode", "requires_approval", "reversible", "inverse", "cli"):
            console().print(f"[bold]{key}:[/] {escape(str(info[key]))}")
        console().print("[bold]permissions:[/] " + ", ".join(info["permissions"]))
        props = info["parameters"].get("properties", {})
        for name, spec in props.items():
            console().print(
                f"  [bold]--param {name}=[/]  {escape(spec.get('description', spec.get('type', '')))}"
            )

    emit(ctx, info, text)


@app.command("plan")
def plan(
    ctx: typer.Context,
    operation_id: str = typer.Argument(..., metavar="ID"),
    target: list[str] = TARGET,
    tag: list[str] = TAG,
    region: list[str] = REGION,
    param: list[str] = PARAM,
    reason: str = REASON,
) -> None:
    """Read each target's current state now and show what would change. Changes nothing."""
    from escher.cli.commands._ops_flow import plan_from_cli, render_plan
    from escher.policy.runtime import open_runtime, parse_assignments

    rt = open_runtime()
    engine = rt.engine()
    the_plan = plan_from_cli(
        rt, engine, operation_id, target, tag, region, parse_assignments(param, "param"), reason
    )
    decision = rt.gate().decide(the_plan)

    def text() -> None:
        render_plan(the_plan)
        verdict = "allowed" if decision.allowed else "not allowed"
        console().print(f"policy: {verdict} ({decision.reason})")

    emit(ctx, {**the_plan.to_dict(), "decision": decision.__dict__}, text)


@app.command("run")
def run(
    ctx: typer.Context,
    operation_id: str = typer.Argument(..., metavar="ID"),
    target: list[str] = TARGET,
    tag: list[str] = TAG,
    region: list[str] = REGION,
    param: list[str] = PARAM,
    reason: str = REASON,
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and show; change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (needed without a terminal)."),
    approve: str | None = typer.Option(None, "--approve", metavar="REASON", help=APPROVE_HELP),
) -> None:
    """Plan, check policy, ask, execute and verify. A step that needs approval is not run: an approval request
    is made instead (exit 5), unless an approval covers it."""
    from escher.cli.commands._ops_flow import plan_from_cli, run_flow
    from escher.policy.runtime import open_runtime, parse_assignments

    rt = open_runtime()
    rt.self_approval = approve
    engine = rt.engine()
    the_plan = plan_from_cli(
        rt, engine, operation_id, target, tag, region, parse_assignments(param, "param"), reason
    )
    run_flow(ctx, rt, the_plan, engine, dry_run=dry_run, yes=yes)
