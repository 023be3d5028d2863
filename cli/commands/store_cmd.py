"""``escher store status|reindex|purge``: what the knowledge store holds and where it lives."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, sub_app

app = sub_app("The knowledge store: embedded Postgres + pgvector (or ESCHER_DATABASE_URL).")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Where the store is, its versions, and how many records each collection holds."""
    from escher.store.store import Store

    with Store.open() as store:
        info = store.status()

    def text() -> None:
        from rich.table import Table

        console().print(
            f"[bold]{info.backend}[/] Postgres {info.server_version}, pgvector {info.pgvector_version}, "
            f"schema v{info.schema_version}, embedder {info.embedder}\n{info.location}"
        )
        if info.recovered_leftover:
            console().print(
                "[yellow]A server left running by a crashed process was stopped and restarted.[/]"
            )
        table = Table("collection", "records")
        for name, n in info.counts.items():
            table.add_row(name, str(n))
        console().print(table)

    emit(ctx, info.to_dict(), text)


@app.command("reindex")
def reindex(ctx: typer.Context) -> None:
    """Re-embed every search document with the configured embedder."""
    from escher.store.store import Store

    with Store.open() as store:
        n = store.reindex()
    emit(ctx, {"reindexed": n}, lambda: console().print(f"Re-embedded {n} documents."))


@app.command("purge")
def purge(ctx: typer.Context) -> None:
    """Apply retention now (cost snapshots 90 days, audit 1 year by default); each purge is audited."""
    from escher.config import load_settings
    from escher.store.retention import purge as run_purge
    from escher.store.store import Store

    settings = load_settings()
    with Store.open(settings) as store:
        results = run_purge(store, settings.retention)
    data = [{"chain": r.chain, "through_seq": r.through_seq, "removed": r.removed} for r in results]
    emit(ctx, {"purged": data}, lambda: console().print(f"Purged {sum(r.removed for r in results)} records."))
