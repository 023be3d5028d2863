"""``escher cost sync``: the daily billing pull, now (the 02:00 job and the first ``escher scan`` run it too)."""

from __future__ import annotations

from datetime import date

import typer

from escher.cli._render import console, emit, sub_app

app = sub_app("Cost snapshots: pull yesterday's billing data now.")


@app.command("sync")
def sync_cmd(
    ctx: typer.Context,
    cloud: list[str] = typer.Option(
        None,
        "--cloud",
        metavar="CLOUD",
        help="aws, azure or gcp (repeatable); default: each enabled cloud whose billing is configured.",
    ),
    day: str | None = typer.Option(
        None, "--day", metavar="YYYY-MM-DD", help="The day to pull; default: yesterday (UTC)."
    ),
) -> None:
    """Pull the day's cost snapshot for each cloud (stored once per day: a second run makes no call)."""
    from escher.config import load_settings
    from escher.scans.cost import billing_clouds, sync
    from escher.scans.persist import close_store, open_store

    unknown = sorted(set(cloud or []) - {"aws", "azure", "gcp"})
    if unknown:
        raise typer.BadParameter(f"unknown cloud {unknown[0]!r}; use aws, azure or gcp", param_hint="--cloud")
    try:
        when = date.fromisoformat(day) if day else None
    except ValueError:
        raise typer.BadParameter("use YYYY-MM-DD, e.g. 2025-03-14", param_hint="--day") from None
    settings = load_settings()
    clouds = list(cloud or []) or billing_clouds(settings) or ["aws"]
    store = open_store()
    try:
        result = sync(clouds, store, when)
    finally:
        close_store(store)

    def text() -> None:
        con = console()
        for s in result.to_dict()["snapshots"]:
            con.print(f"{s['cloud']:<6} {s['day']}  {s['total']:>12,.2f} {s['currency']}", markup=False)
        for line in result.missing:
            con.print(f"NOT READ {line}", markup=False, style="yellow")
        how = "pulled" if result.fetched else "already stored (no billing call)"
        con.print(f"{len(result.snapshots)} snapshot(s) for {result.day}, {how}; see `escher report`.")

    emit(ctx, result.to_dict(), text)
    if result.missing and not result.snapshots:
        raise typer.Exit(1)
