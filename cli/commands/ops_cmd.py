"""``escher ops``: the operations catalogue, plans and runs."""

from __future__ import annotations

import re
from collections.abc import Callable
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
    help="Act in this AWS account (through [aws] organization_role), Azure subscription or GCP project "
    "(repeatable: the plan is made, checked and run in each in turn).",
)
ALL_ACCOUNTS = typer.Option(
    False,
    "--all-accounts",
    help="Act in every account of the operation's cloud, the ones `escher scan --all-accounts` reads "
    "(see `escher accounts list`).",
)

if TYPE_CHECKING:
    from escher.ops.context import CloudContext
    from escher.ops.engine import Engine, Plan
    from escher.policy.runtime import Runtime


def in_account(rt: Runtime, operation_id: str, account: str | None) -> Runtime:
    """``rt`` acting in ``account`` (None: unchanged): an AWS account through the organization role, an Azure
    subscription or a GCP project; every gate it builds knows the account (template allow-lists, the ledger)."""
    if not account:
        return rt
    from dataclasses import replace

    from escher.clouds import provider
    from escher.ops.model import OPERATIONS

    cloud = provider(OPERATIONS.get(operation_id).cloud)
    if cloud.account_pattern and not re.fullmatch(cloud.account_pattern, account):
        raise typer.BadParameter(f"{account!r} is not {cloud.account_example}", param_hint="--account")
    ctx: CloudContext = cloud.load("act_in")(rt.ctx, rt.settings, account)
    return replace(rt, ctx=ctx, account=account)  # its gates and engine name the account in every record


def op_accounts(
    rt: Runtime, operation_id: str, given: list[str] | None, all_accounts: bool
) -> list[str | None]:
    """The accounts an operation acts in: each ``--account`` once, in order; with ``--all-accounts`` every account
    of its cloud (as ``escher scan --all-accounts`` lists them); neither: ``[None]``, the caller's own."""
    if given and all_accounts:
        raise typer.BadParameter("give --account ID or --all-accounts, not both", param_hint="--all-accounts")
    if not all_accounts:
        return list(dict.fromkeys(given or [])) or [None]
    from escher.cli.commands.scan_cmd import _accounts
    from escher.clouds import PROVIDERS
    from escher.ops.model import OPERATIONS

    cloud = OPERATIONS.get(operation_id).cloud
    if cloud not in PROVIDERS:
        raise typer.BadParameter(
            f"{operation_id} does not act in a cloud account", param_hint="--all-accounts"
        )
    return list(_accounts(rt.settings, [cloud], True, [], rt.ctx).get(cloud, []))


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
    account: list[str] = ACCOUNT,
    all_accounts: bool = ALL_ACCOUNTS,
) -> None:
    """Read each target's current state now and show what would change. Changes nothing.

    With several accounts (--account repeated, or --all-accounts) there is one plan per account, each of the
    --target ids in the account the latest inventory holds it in; JSON output is then a list of the one-account
    objects."""
    from escher.cli.commands._ops_flow import plan_from_cli, render_plan
    from escher.policy.runtime import open_runtime, parse_assignments

    base = open_runtime()
    params = parse_assignments(param, "param")
    accounts = op_accounts(base, operation_id, account, all_accounts)
    single = len(accounts) == 1 and not all_accounts
    held = {accounts[0]: target} if single else targets_by_account(operation_id, accounts, target)

    def make_plan(rt: Runtime, engine: Engine, ids: list[str]) -> Plan:
        return plan_from_cli(rt, engine, operation_id, ids, tag, region, params, reason)

    planned: list[tuple[Any, Any, str | None]] = []
    for one in accounts:
        if not single and target and not held[one] and not tag:
            planned.append((None, None, one))  # none of the ids is there: nothing to read in that account
            continue
        rt = in_account(base, operation_id, one)
        engine = rt.engine()
        the_plan = (
            make_plan(rt, engine, held[one])
            if single
            else _plan_here(make_plan, rt, engine, operation_id, held[one])
        )
        planned.append((the_plan, rt.gate().preview(the_plan) if the_plan else None, one))

    def text() -> None:
        for the_plan, decision, one in planned:
            where = f" in account {one}" if one else ""
            if the_plan is None or decision is None:
                console().print(f"[dim]account {one}: {_nothing_here(target)}[/]")
                continue
            render_plan(the_plan)
            verdict = "allowed" if decision.allowed else "not allowed"
            console().print(f"policy{where}: {verdict} ({decision.reason})")

    data = [
        {**p.to_dict(), "account": one, "decision": d.__dict__}
        if p is not None and d is not None
        else {"account": one, "changes": [], "decision": None, "note": _nothing_here(target)}
        for p, d, one in planned
    ]
    emit(ctx, data[0] if single else data, text)


NOTHING_HERE = "the tags select no resource in this account: nothing to do here"
NO_ID_HERE = "the latest inventory holds none of the --target ids in this account: nothing to do here"


def _nothing_here(targets: list[str]) -> str:
    return NO_ID_HERE if targets else NOTHING_HERE


def targets_by_account(
    operation_id: str, accounts: list[str | None], targets: list[str]
) -> dict[str | None, list[str]]:
    """Each ``--target`` id in the accounts (of several) the latest inventory in the store holds it in
    (:func:`place_targets`)."""
    if not targets:
        return {one: [] for one in accounts}
    from escher.ops.model import OPERATIONS
    from escher.scans.persist import close_store, open_store

    store = open_store()
    try:
        estate = store.latest("estate") or {}
    finally:
        close_store(store)
    return place_targets(estate.get("records", []), OPERATIONS.get(operation_id).cloud, accounts, targets)


def place_targets(
    records: list[dict[str, Any]], cloud: str, accounts: list[str | None], targets: list[str]
) -> dict[str | None, list[str]]:
    """Which of ``accounts`` each id of ``targets`` is planned in: those the inventory ``records`` (``escher
    scan`` stamps each resource with its account) hold it in, so an id is read and changed only where it is,
    in two accounts only when the inventory has it in both. An id in none of them is refused, naming the
    accounts searched."""
    from escher.ops.model import OpError

    where: dict[str, set[str]] = {}
    for rec in records:
        if isinstance(rec, dict) and rec.get("cloud") == cloud and rec.get("id") and rec.get("account"):
            where.setdefault(str(rec["id"]), set()).add(str(rec["account"]))
    held: dict[str | None, list[str]] = {one: [] for one in accounts}
    missing = []
    for tid in dict.fromkeys(targets):
        found = [one for one in accounts if one in where.get(tid, ())]
        missing += [] if found else [tid]
        for one in found:
            held[one].append(tid)
    if missing:
        searched = ", ".join(str(one) for one in accounts)
        raise OpError(
            f"{', '.join(missing)}: in none of the accounts searched ({searched}), as the latest inventory "
            "says",
            hint="check the id and the accounts; a resource made since the last scan is known after "
            f"'escher scan --cloud {cloud} --account ID', or name the one account it is in (with one "
            "--account the id is read there, inventory or not)",
        )
    return held


PlanMaker = Callable[["Runtime", "Engine", list[str]], "Plan"]


def _plan_here(
    make_plan: PlanMaker, rt: Runtime, engine: Engine, operation_id: str, ids: list[str]
) -> Plan | None:
    """``make_plan``'s plan of ``ids`` in one of several accounts; None when only tags select the targets and
    they select none in this account (an account without such resources is not an error when acting in
    several)."""
    from escher.ops.model import OpError

    try:
        return make_plan(rt, engine, ids)
    except OpError as exc:
        if ids or not str(exc).startswith(f"no targets for {operation_id}"):
            raise
        return None


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
    account: list[str] = ACCOUNT,
    all_accounts: bool = ALL_ACCOUNTS,
) -> None:
    """Plan, check policy, ask, execute and verify. A step that needs approval is not run: an approval request
    is made instead (exit 5), unless an approval covers it.

    With several accounts (--account repeated, or --all-accounts) each account has its own plan, gate decision
    and ledger records, run in turn, each --target id only in the account the latest inventory holds it in;
    the exit code is the worst of them, and JSON output is a list."""
    from escher.cli.commands._ops_flow import plan_from_cli, run_flow
    from escher.policy.runtime import open_runtime, parse_assignments

    base = open_runtime()
    params = parse_assignments(param, "param")
    accounts = op_accounts(base, operation_id, account, all_accounts)

    def make_plan(rt: Runtime, engine: Engine, ids: list[str]) -> Plan:
        return plan_from_cli(rt, engine, operation_id, ids, tag, region, params, reason)

    if len(accounts) == 1 and not all_accounts:
        rt = in_account(base, operation_id, accounts[0])
        rt.self_approval = approve
        engine = rt.engine()
        run_flow(ctx, rt, make_plan(rt, engine, target), engine, dry_run=dry_run, yes=yes)
    held = targets_by_account(operation_id, accounts, target)
    _run_in_accounts(ctx, base, held, operation_id, approve, dry_run, yes, make_plan, bool(tag))


def _run_in_accounts(
    ctx: typer.Context, base: Runtime, held: dict[str | None, list[str]], operation_id: str,
    approve: str | None, dry_run: bool, yes: bool, make_plan: PlanMaker, by_tag: bool,
) -> None:  # fmt: skip
    """Run the operation in each account in turn (its own plan, gate decision and ledger records), on the ids
    ``held`` there; exit with the worst code (a failure or a refusal in one account does not stop the
    others)."""
    from rich.markup import escape

    from escher.cli._render import print_json, state
    from escher.cli.commands._ops_flow import render_plan, render_result, run_and_word

    as_json = state(ctx).json
    out: list[dict[str, Any]] = []
    worst = 0
    by_id = any(held.values())
    for one, ids in held.items():
        if not as_json:
            console().rule(f"account {escape(str(one))}")
        the_plan = None
        if ids or by_tag:
            rt = in_account(base, operation_id, one)
            rt.self_approval = approve
            engine = rt.engine()
            the_plan = _plan_here(make_plan, rt, engine, operation_id, ids)
        if the_plan is None:
            note = NO_ID_HERE if by_id and not by_tag else NOTHING_HERE
            if not as_json:
                console().print(f"[dim]{note}[/]")
            out.append({"account": one, "executed": False, "note": note})
            continue
        if not as_json:
            render_plan(the_plan)
        if dry_run:
            result = engine.execute(the_plan, dry_run=True)
            if not as_json:
                render_result(result)
            data, code = {"plan": the_plan.to_dict(), "result": result.to_dict()}, 0 if result.ok else 1
        else:
            data, code = run_and_word(rt, the_plan, yes=yes, as_json=as_json)
        out.append({"account": one, **data})
        worst = max(worst, code)
    if as_json:
        print_json(out)
    raise typer.Exit(worst)
