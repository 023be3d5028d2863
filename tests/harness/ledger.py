"""The audit records a test's CLI runs left in the ledger, oldest first (what operations.jsonl used to hold)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def audit_records(home: Path) -> list[dict[str, Any]]:
    """Every audit record of the escher home ``home`` (config/ and data/ under it); [] when no store exists."""
    from escher.config import Paths
    from escher.store.audit_query import AuditQuery, query_audit
    from escher.store.store import Store

    if not os.environ.get("ESCHER_DATABASE_URL") and not (home / "data" / "postgres").exists():
        return []  # nothing was ever recorded: do not create a store just to look
    with Store.open(paths=Paths(home / "config", home / "data")) as store:
        rows = list(query_audit(store.connection, AuditQuery(limit=None)))
    return [row.record.model_dump(mode="json") for row in reversed(rows)]
