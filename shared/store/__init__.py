"""The knowledge store: Postgres + pgvector (embedded by default) with the five collections of the vision.

Importing this package loads no database driver: ``psycopg``, ``pgserver`` and ``cryptography`` are imported
when a store is opened. Start with :meth:`escher.store.store.Store.open`.
"""

from __future__ import annotations

from escher.store.errors import AppendOnlyError, MigrationError, StoreError, StoreUnavailableError
from escher.store.models import (
    AlertRecord,
    ChatMessage,
    Collection,
    InventoryItem,
    OperationRecord,
    ReportRecord,
    SearchFilter,
    SearchHit,
)

__all__ = [
    "AlertRecord",
    "AppendOnlyError",
    "ChatMessage",
    "Collection",
    "InventoryItem",
    "MigrationError",
    "OperationRecord",
    "ReportRecord",
    "SearchFilter",
    "SearchHit",
    "StoreError",
    "StoreUnavailableError",
]
