"""``escher audit list|show|export|verify|accept-restore``: read the one ledger every change is in, and prove it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, state, sub_app
from escher.cli.commands.sync_cmd import NO_SYNC, auto_sync

if TYPE_CHECKING:
    from escher.store.audit_query import AuditQuery
    from escher.store.store import Store

app = sub_app("The immutable audit log: every change, approval and refusal, hash-chained and signed.")


class ExportChoice(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    ocsf = "ocsf"


SINCE = typer.Option(None, "--since", help="From this time: 2026-03-01, 2026-03-01T12:00, or 24h / 7d ago.")
UNTIL = typer.Option(None, "--until", help="Before this time (same forms as --since).")
ACTOR = typer.Option(None, "--actor", help="Who: part of the actor, e.g. alice or scheduler.")
ACTION = typer.Option(None, "--action", help="What: an operation id or its prefix, e.g. aws.ec2 or approval.")
TARGET = typer.Option(None, "--target", help="Which resource: part of its id or ARN.")
CLOUD = typer.Option(None, "--cloud", help="aws, azure or gcp.")
OUTCOME = typer.Option(None, "--outcome", help="e.g. verified, failed, refused, approved.")


def _query(
    since: str | None,
    until: str | None,
    actor: str | None,
    action: str | None,
    target: str | None,
    cloud: str | None,
    outcome: str | None,
    limit: int | None,
) -> AuditQuery:
    from escher.store.audit_query import AuditQuery, parse_when

    return AuditQuery(
        since=parse_when(since) if since else None,
        until=parse_when(until) if until else None,
        actor=actor, action=action, target=target, cloud=cloud, outcome=outcome, limit=limit,
    )  # fmt: skip


def _open() -> Store:
    """The store, with a legacy operations.jsonl moved into the ledger first (once)."""
    from escher.audit.ledger import migrate_jsonl
    from escher.store.store import Store

    store = Store.open()
    try:
        migrate_jsonl(store)
    except BaseException:
        store.close()
        raise
    return store


@app.command("list")
def list_(
    ctx: typer.Context,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    actor: str | None = ACTOR,
    action: str | None = ACTION,
    target: str | None = TARGET,
    cloud: str | None = CLOUD,
    outcome: str | None = OUTCOME,
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many, newest first."),
    no_sync: bool = NO_SYNC,
) -> None:
    """Recorded acts, newest first: operations (intent and outcome), approvals, refusals, extend/destroy; the
    extension's workers' acts too (synced first)."""
    from escher.store.audit_query import query_audit

    auto_sync(no_sync)

    with _open() as store:
        rows = list(
            query_audit(store.connection, _query(since, until, actor, action, target, cloud, outcome, limit))
        )

    def text() -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"audit log: {len(rows)} record(s), newest first")
        for col in ("seq", "at (UTC)", "actor", "action", "target", "account", "outcome"):
            table.add_column(col, overflow="fold")
        for row in rows:
            r = row.record
            table.add_row(str(row.seq), r.at.strftime("%Y-%m-%d %H:%M:%S"), escape(r.actor), escape(r.action),
                          escape(r.target), escape(_account(r.details)), _outcome(r.outcome))  # fmt: skip
        console().print(table)
        if not rows:
            console().print("Nothing recorded matches. Widen the filters, or see 'escher audit list --help'.")

    emit(ctx, [row.to_json() for row in rows], text)


def _account(details: dict[str, Any]) -> str:
    """The account a record names (an AWS account, Azure subscription or GCP project): the engine's and the
    gate's records carry it in ``details``; "" for acts that are in no account (an approval, a template)."""
    account = details.get("account")
    return str(account) if account else ""


def _outcome(outcome: str) -> str:
    if outcome in ("failed", "refused", "rejected", "verify_failed"):
        return f"[red]{outcome}[/]"
    return f"[green]{outcome}[/]" if outcome in ("verified", "succeeded", "approved", "noop") else outcome


@app.command("show")
def show(
    ctx: typer.Context,
    record: str = typer.Argument(..., help="A record id (or its first 8+ characters), or a sequence number."),
    no_sync: bool = NO_SYNC,
) -> None:
    """One record in full: before and after, details, timings, and its place in the chain."""
    from escher.store.audit_query import find_audit

    auto_sync(no_sync)

    with _open() as store:
        row = find_audit(store.connection, record)
    if row is None:
        from escher.errors import NotFoundError

        raise NotFoundError(
            f"no audit record {record!r}", hint="see 'escher audit list' for ids and sequence numbers"
        )
    data = row.to_json()

    def text() -> None:
        import json

        from rich.markup import escape

        for key, value in data.items():
            shown = json.dumps(value, indent=2, default=str) if isinstance(value, dict | list) else str(value)
            if value not in (None, {}, [], ""):
                console().print(f"[bold]{key}[/]: {escape(shown)}")

    emit(ctx, data, text)


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: ExportChoice = typer.Option(
        ExportChoice.jsonl, "--format", "-f", help="jsonl, csv or ocsf (OCSF 1.1 API Activity)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write to this file (default: standard output)."),
    since: str | None = SINCE,
    until: str | None = UNTIL,
    actor: str | None = ACTOR,
    action: str | None = ACTION,
    target: str | None = TARGET,
    cloud: str | None = CLOUD,
    outcome: str | None = OUTCOME,
    no_sync: bool = NO_SYNC,
) -> None:
    """Every matching record (oldest first) with its sequence number and chain hash, for a SIEM or an auditor."""
    import sys

    auto_sync(no_sync)

    from escher.store.audit_query import export_lines, query_audit

    count = 0
    with _open() as store:
        rows = list(
            query_audit(store.connection, _query(since, until, actor, action, target, cloud, outcome, None))
        )
    rows.reverse()
    sink: Any = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        for line in export_lines(rows, fmt.value):
            sink.write(line)
        count = len(rows)
    finally:
        if out:
            sink.close()
    if out:
        emit(ctx, {"exported": count, "format": fmt.value, "file": str(out)},
             lambda: console().print(f"{count} record(s) exported as {fmt.value} to {out}"))  # fmt: skip


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check the chains, their signatures and the anchors outside the database; exit 1 naming what is wrong:
    edited, deleted, reordered, forged, truncated, rolled back, erased or rewritten, and where."""
    with _open() as store:
        anchors = [str(store.ledger.anchors.path)] if store.ledger.anchors is not None else []
        anchors += [store.ledger.remote.url] if store.ledger.remote is not None else []
        total = sum(store.status().chains.values())
        if state(ctx).json or total < 20_000:
            report = store.verify()
        else:
            from rich.progress import Progress

            with Progress(console=console(), transient=True) as progress:
                task = progress.add_task("verifying", total=total)
                report = store.verify(progress=lambda n: progress.advance(task, n))

    def text() -> None:
        from rich.markup import escape

        for chain in report.chains:
            mark = "[green]ok[/]" if not chain.issues else f"[bold red]{len(chain.issues)} problem(s)[/]"
            console().print(
                f"{chain.chain:<11} {chain.records:>9} records, {chain.checkpoints} signed heads: {mark}"
            )
            for issue in chain.issues:
                console().print(f"  [red]{issue.kind}[/] at seq {issue.seq}: {escape(issue.detail)}")
        for issue in report.keys:
            console().print(f"  [red]{issue.kind}[/]: {escape(issue.detail)}")
        console().print(f"anchors outside the database: {', '.join(anchors) or 'none'}")
        if report.ok:
            console().print(
                "[green]The ledger verifies: nothing was edited, deleted, reordered, forged, truncated, rolled "
                "back or erased.[/]"
            )

    emit(ctx, {**report.to_dict(), "anchors": anchors}, text)
    raise typer.Exit(0 if report.ok else 1)


@app.command("accept-restore")
def accept_restore(
    ctx: typer.Context,
    reason: str = typer.Option(
        ..., "--reason", help="Why the restored history is the one to judge from now on."
    ),
) -> None:
    """Accept a deliberate 'escher backup restore' on this machine: the local anchors are moved aside (kept,
    renamed with the time), an audit.accept_restore record names who, why and the heads they held, and the
    restored chains are anchored anew. Anchors in a WORM bucket stay: verify still reports the history against
    them, saying the restore was accepted."""
    from escher.config import load_settings, resolve_paths
    from escher.policy.personas import current_actor
    from escher.store.anchor import accept_restore as accept

    actor = current_actor(load_settings(resolve_paths()).extensions)
    with _open() as store:
        done = accept(store.ledger, f"user:{actor.name}", reason)

    def text() -> None:
        kept = done["anchors_kept"]
        console().print(
            f"Restore accepted (record {done['record_id'][:12]}); the restored chains are anchored anew."
        )
        console().print(
            f"The old anchors are kept in {kept}." if kept else "There were no local anchors to move."
        )

    emit(ctx, done, text)
