"""``escher doctor``'s store check: start the store, run a query, check pgvector."""

from __future__ import annotations

from escher.config import ConfigError, Paths, load_settings
from escher.doctor import Check, Status
from escher.errors import EscherError
from escher.lazy import is_installed

__all__ = ["probe"]


def probe(paths: Paths) -> Check:
    if not (is_installed("psycopg") and is_installed("pgvector")):
        return Check("escher", "store", Status.warn, "psycopg / pgvector not installed",
                     hint="pip install 'escher[store]'")  # fmt: skip
    try:
        settings = load_settings(paths)
    except ConfigError as exc:
        return Check("escher", "store", Status.fail, exc.message, hint=exc.hint, required=True)
    if not settings.store.database_url and not is_installed("pgserver"):
        return Check("escher", "store", Status.warn, "embedded Postgres not installed",
                     hint="pip install 'escher[store]', or set ESCHER_DATABASE_URL")  # fmt: skip
    from escher.store.store import Store

    try:
        with Store.open(settings, paths) as store:
            status = store.status()
            store.connection.execute("SELECT count(*) FROM search_docs").fetchone()
    except EscherError as exc:
        return Check("escher", "store", Status.fail, exc.message, hint=exc.hint, required=True)
    if status.pgvector_version == "missing":
        return Check("escher", "store", Status.fail, "pgvector is not installed in the database",
                     hint="CREATE EXTENSION vector (as a superuser), or use the embedded store",
                     required=True)  # fmt: skip
    detail = (
        f"{status.backend} Postgres {status.server_version}, pgvector {status.pgvector_version}, "
        f"schema v{status.schema_version}, {sum(status.counts.values())} records ({status.location})"
    )
    return Check("escher", "store", Status.ok, detail, required=True)
