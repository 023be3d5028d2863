"""``escher backup now|list|restore``: snapshots of the local store in the configured bucket."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, sub_app

app = sub_app("Back up the local store to object storage (ESCHER_STATE_URL or [state] url) and restore it.")


def _target() -> tuple[object, object]:
    from escher.config import ConfigError, load_settings, resolve_paths
    from escher.state import open_state, state_url

    paths = resolve_paths()
    settings = load_settings(paths)
    url = state_url(settings.extensions)
    if not url:  # a setting that is missing: a config error, exit 2
        raise ConfigError(
            "no backup bucket is configured",
            hint="set ESCHER_STATE_URL (s3://bucket/prefix, gs://..., az://container/prefix, file:///dir) "
            "or add [state] url = '...' to the config file",
        )
    return paths, open_state(url)


@app.command("now")
def now(ctx: typer.Context) -> None:
    """Snapshot the store to the bucket now."""
    from rich.status import Status

    from escher.store.backup import backup_now
    from escher.store.store import Store

    paths, target = _target()
    with Store.open(paths=paths) as store, Status("backing up...", console=console()):  # type: ignore[arg-type]
        store.ledger.checkpoint()  # the backup carries a fresh signed head of every chain
        info = backup_now(store.url, paths, target)  # type: ignore[arg-type]
    emit(ctx, info.to_dict(), lambda: console().print(f"Backed up {info.size:,} bytes as {info.backup_id}."))


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The backups in the bucket, oldest first."""
    from escher.store.backup import list_backups

    _, target = _target()
    backups = list_backups(target)  # type: ignore[arg-type]

    def text() -> None:
        from rich.table import Table

        table = Table("id", "created", "host", "size")
        for b in backups:
            table.add_row(b.backup_id, b.created, b.host, f"{b.size:,}")
        console().print(table if backups else "No backups yet.")

    emit(ctx, [b.to_dict() for b in backups], text)


@app.command("restore")
def restore(
    ctx: typer.Context,
    backup_id: str | None = typer.Argument(None, help="Which backup (default: the newest)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing the local store."),
) -> None:
    """Replace the local store with a backup (the current one is kept until the restore succeeded)."""
    from escher.store.backup import restore as run_restore

    paths, target = _target()
    if not yes and not typer.confirm("Replace the local store with the backup?"):
        raise typer.Abort()
    from escher.config import load_settings

    url = load_settings(paths).store.database_url  # type: ignore[arg-type]
    info = run_restore(paths, target, backup_id, url=url)  # type: ignore[arg-type]
    emit(ctx, info.to_dict(), lambda: console().print(f"Restored {info.backup_id} ({info.created})."))
