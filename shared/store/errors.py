"""What can go wrong in the knowledge store, each with what to do about it."""

from __future__ import annotations

from escher.errors import EscherError

__all__ = [
    "AppendOnlyError",
    "MigrationError",
    "RecordError",
    "StoreError",
    "StoreUnavailableError",
]


class StoreError(EscherError):
    """The knowledge store refused or failed an operation."""


class StoreUnavailableError(StoreError):
    """The database cannot be started or reached."""

    exit_code = 4


class MigrationError(StoreError):
    """The schema cannot be brought to this version of Escher."""


class AppendOnlyError(StoreError):
    """Something tried to change or remove an immutable record (audit log, reports)."""


class RecordError(StoreError):
    """A record does not fit its collection, or cannot be read back."""
