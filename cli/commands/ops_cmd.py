"""``escher ops``: the operations catalogue, plans and runs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, sub_app
from escher.cli.commands._ops_flow import APPROVE_HELP

app = sub_app("The operations catalogue: list, show, plan and run operations on AWS, Azure and GCP.")

TARGET = typer.Option([], "--target", "-t", help="A resource id (repeatable).")
TAG = typer.Option([], "--tag", help="Select targets by tag KEY=VALUE (repeatable; ANDed).")
REGION = typer.Option([], "--region", "-r", help="Region(s) to act in (repeatable).")
PARAM = typer.Option([], "--param", "-p", help="Operation parameter KEY=VALUE (repeatable; a.b=v nests).")
REASON = typer.Option("", "--reason", help="Why: kept in the audit record.")
ACCOUNT = typer.Option(
    None,
    "--account",
    metavar="ID",
    help="Act in this AWS account (through [aws] organization_role), Azure subscription or GCP project.",
)

if TYPE_CHECKING:
    from escher.ops.context import CloudContext
    from escher.policy.gate import Gate
    from escher.policy.runtime import Runtime
    from escher.policy.templates import Template


def in_account(rt: Runtime, operation_id: str, account: str | None) -> Runtime:
    """``rt`` acting in ``account`` (None: unchanged): an AWS account through the organization role, an Azure
    subscription or a GCP project; every gate it builds knows the account (template allow-lists, the ledger)."""
    if not account:
        return rt
    from escher.ops.model import OPERATIONS
    from escher.policy.runtime import Runtime

    cloud = OPERATIONS.get(operation_id).cloud
    base = rt.ctx
    if cloud == "aws":
        import re

        if not re.fullmatch(r"\d{12}", account):
            raise typer.BadParameter(
                f"{account!r} is not an AWS account id (12 digits, such as 111122223333)",
                param_hint="--account",
            )
        ctx: CloudContext = _aws_account_context(rt, account)
    else:
        from dataclasses import replace

        if cloud == "azure":
            ctx = replace(base, azure_subscription_id=account, _cache={})  # its own clients
        else:
            ctx = replace(base, gcp_project=account, _cache={})

    @dataclass
    class InAccount(Runtime):
        def gate(self, template: Template | None = None) -> Gate:
            gate = super().gate(template)
            gate.account = account
            return gate

    values: dict[str, Any] = {f.name: getattr(rt, f.name) for f in fields(rt)}
    return InAccount(**{**values, "ctx": ctx})


def _aws_account_context(rt: Runtime, account: str) -> CloudContext:
    """A CloudContext whose AWS clients act in ``account``, on the credentials of [aws] organization_role
    assumed there (the caller's own session for its own account)."""
    from escher.clouds.aws import DEFAULT_RETRIES, AccountSessions, translate
    from escher.ops.context import CloudContext

    aws = rt.settings.aws
    try:
        session = AccountSessions(
            role=aws.organization_role, profile=aws.profile, endpoint_url=aws.endpoint_url
        ).enter(account, session_name="escher-ops")
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        error.hint = (
            f"check that the role {aws.organization_role!r} exists in account {account} and trusts this "
            "identity ([aws] organization_role names it)"
        )
        raise error from None

    @dataclass
    class InAccount(CloudContext):
        def aws(self, service: str, region: str | None = None) -> Any:
            from botocore.config import Config

            config = Config(retries=dict(self.aws_retries or DEFAULT_RETRIES), user_agent_extra="escher")
            return self._cached(
                ("aws", service, region or ""),
                lambda: session.client(
                    service, region_name=region, config=config, endpoint_url=self.aws_endpoint_url
                ),
            )

    values = {
        f.name: getattr(rt.ctx, f.name) for f in fields(rt.ctx) if f.init and not f.name.startswith("_")
    }
    return InAccount(**values)


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
    account: str | None = ACCOUNT,
) -> None:
    """Read each target's current state now and show what would change. Changes nothing."""
    from escher.cli.commands._ops_flow import plan_from_cli, render_plan
    from escher.policy.runtime import open_runtime, parse_assignments

    rt = in_account(open_runtime(), operation_id, account)
    engine = rt.engine()
    the_plan = plan_from_cli(
        rt, engine, operation_id, target, tag, region, parse_assignments(param, "param"), reason
    )
    decision = rt.gate().decide(the_plan)

    def text() -> None:
        render_plan(the_plan)
        verdict = "allowed" if decision.allowed else "not allowed"
        where = f" in account {account}" if account else ""
        console().print(f"policy{where}: {verdict} ({decision.reason})")

    emit(ctx, {**the_plan.to_dict(), "account": account, "decision": decision.__dict__}, text)


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
    account: str | None = ACCOUNT,
) -> None:
    """Plan, check policy, ask, execute and verify. A step that needs approval is not run: an approval request
    is made instead (exit 5), unless an approval covers it."""
    from escher.cli.commands._ops_flow import plan_from_cli, run_flow
    from escher.policy.runtime import open_runtime, parse_assignments

    rt = in_account(open_runtime(), operation_id, account)
    rt.self_approval = approve
    engine = rt.engine()
    the_plan = plan_from_cli(
        rt, engine, operation_id, target, tag, region, parse_assignments(param, "param"), reason
    )
    run_flow(ctx, rt, the_plan, engine, dry_run=dry_run, yes=yes)
