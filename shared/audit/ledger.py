"""The ledger as the audit sink of every path that changes something: one ledger, no second log.

:func:`escher.policy.runtime.open_runtime` gives this sink to the engine, the gate and the approvals, so
``ops run``, ``fix``, ``ask``, templates, schedules and approvals all land in the hash-chained, signed and
anchored ledger of the store (:mod:`escher.store.ledger`); ``extend``, ``destroy`` and the remediation switches
write through :func:`recorded`. Each ``append`` commits before it returns, so the gate's record (the intent)
is durable before the cloud call and the engine's outcome before the command reports success.

The store opens on the first record, not before (listing approvals starts no database), and closes when the CLI
command ends (the click context) or the process exits: that signs and anchors the head. When the store cannot
be used -- the ``store`` extra missing, the server unreachable -- the first ``append`` raises with what to do,
before any cloud call: a command never changes a cloud without its record.

A ``<data dir>/audit/operations.jsonl`` left by earlier versions is moved into the ledger once, in its order and
with its times, then renamed ``operations.jsonl.migrated``. Engine outcomes also update the Executed Operations
collection (one :class:`~escher.store.models.OperationRecord` per plan and target), so search finds them.
"""

from __future__ import annotations

import atexit
import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from escher.audit import AuditRecord

if TYPE_CHECKING:
    from escher.config import Paths, Settings
    from escher.store.models import OperationRecord
    from escher.store.store import Store

__all__ = ["LedgerAuditSink", "legacy_jsonl", "migrate_jsonl", "operation_record", "recorded"]

_OPERATION_STATUS: dict[str, Literal["planned", "running", "succeeded", "failed", "refused"]] = {
    "dry_run": "planned",
    "succeeded": "running",  # changed, not yet read back
    "noop": "succeeded",
    "verified": "succeeded",
    "failed": "failed",
    "verify_failed": "failed",
    "refused": "refused",
}


def legacy_jsonl(data_dir: Path) -> Path:
    return data_dir / "audit" / "operations.jsonl"


class LedgerAuditSink:
    """:class:`escher.audit.AuditSink` over the store's ledger; thread-safe; opens the store on first use."""

    def __init__(
        self,
        paths: Paths | None = None,
        settings: Settings | None = None,
        *,
        opener: Callable[[], Store] | None = None,
    ) -> None:
        self._paths = paths
        self._settings = settings
        self._opener = opener
        self._store: Store | None = None
        self._flushed = 0.0
        self._lock = threading.RLock()

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None or self._store.connection.closed:
                self._store, opened = self._open()
                self._flushed = time.monotonic()
                if opened:  # whoever opens it closes it: at the end of the command, or of the process
                    _on_command_end(self.close)
            return self._store

    def _open(self) -> tuple[Store, bool]:
        if self._opener is not None:
            return _migrated(self._opener()), True
        from escher.config import resolve_paths
        from escher.store.store import Store

        paths = self._paths or resolve_paths()
        key = paths.data_dir.expanduser().resolve()
        # one store per data dir and process: a long-running agent opens one, not one per job
        with _SHARED_LOCK:
            store = _SHARED.get(key)
            if store is not None and not store.connection.closed:
                return store, False
            store = _SHARED[key] = _migrated(Store.open(self._settings, paths))
            return store, True

    def append(self, record: AuditRecord) -> None:
        with self._lock:
            store = self.store
            store.ledger.append_audit(record)
            operation = operation_record(record)
            if operation is not None:
                store.put(operation)
            if time.monotonic() - self._flushed > FLUSH_SECONDS:  # a process that lives long (the agent)
                store.ledger.checkpoint_if_dirty()  # still puts its head in the bucket now and then
                self._flushed = time.monotonic()

    def close(self) -> None:
        """Sign and anchor the head, release the store (the embedded server stops with its last user)."""
        with self._lock:
            store, self._store = self._store, None
        if store is None:
            return
        with _SHARED_LOCK:
            for key, shared in list(_SHARED.items()):
                if shared is store:
                    del _SHARED[key]
        store.close()


_SHARED: dict[Path, Store] = {}
_SHARED_LOCK = threading.Lock()
FLUSH_SECONDS = 300.0


def _migrated(store: Store) -> Store:
    try:
        migrate_jsonl(store)
    except BaseException:
        store.close()
        raise
    return store


def _on_command_end(callback: Callable[[], None]) -> None:
    atexit.register(callback)
    # only when a CLI runs (the core never imports click itself); typer carries its own copy of click
    for name in ("typer._click.globals", "click.globals"):
        module = sys.modules.get(name)
        ctx = module.get_current_context(silent=True) if module is not None else None
        if ctx is not None:
            ctx.find_root().call_on_close(callback)
            return


@contextmanager
def recorded(paths: Paths | None = None) -> Iterator[LedgerAuditSink]:
    """A sink for one act outside the engine (extend, destroy, a switch): signed and anchored on exit."""
    sink = LedgerAuditSink(paths)
    try:
        yield sink
    finally:
        sink.close()


def operation_record(record: AuditRecord) -> OperationRecord | None:
    """The Executed Operations entry an engine outcome updates (None for anything else)."""
    status = _OPERATION_STATUS.get(record.outcome)
    if status is None or record.cloud is None or not record.action.startswith(f"{record.cloud}."):
        return None
    from escher.store.models import OperationRecord

    error = record.details.get("error")
    return OperationRecord(
        operation_id=f"{record.correlation_id or record.record_id}:{record.target}",
        at=record.at,
        cloud=record.cloud,
        region=record.details.get("region"),
        operation=record.action,
        target=record.target,
        status=status,
        summary=f"{record.outcome} by {record.actor}" + (f": {record.reason}" if record.reason else ""),
        params=dict(record.details.get("params") or {}),
        result={
            "outcome": record.outcome,
            "audit_record": record.record_id,
            **({"error": error} if error else {}),
        },
    )


def migrate_jsonl(store: Store) -> int:
    """Move a legacy ``operations.jsonl`` into the ledger once (its order, its times); how many records."""
    path = legacy_jsonl(store.data_dir)
    if not path.exists():
        return 0
    raw = path.read_bytes()
    records: list[AuditRecord] = []
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(AuditRecord.model_validate_json(line))
        except ValueError as exc:  # kept, not dropped: the line as it was, and why it could not be read
            records.append(_unreadable(path, n, line, str(exc)))
    digest = hashlib.sha256(raw).hexdigest()
    records.append(
        AuditRecord(
            record_id=f"migrate-{digest[:24]}",
            actor="escher:migration",
            action="audit.migrate_jsonl",
            target=str(path),
            outcome="info",
            reason="the JSON-lines audit file of earlier versions moves into the ledger",
            details={"records": len(records), "sha256": digest},
        )
    )
    from escher.store.ledger import LedgerEntry

    store.ledger.append([LedgerEntry.from_audit(r) for r in records])  # idempotent by record id
    store.put_many(op for r in records if (op := operation_record(r)) is not None)
    path.rename(path.with_name(path.name + ".migrated"))
    return len(records) - 1


def _unreadable(path: Path, n: int, line: str, error: str) -> AuditRecord:
    return AuditRecord(
        record_id=f"migrate-line-{hashlib.sha256(f'{n}:{line}'.encode()).hexdigest()[:24]}",
        actor="escher:migration",
        action="audit.migrate_jsonl.unreadable",
        target=f"{path}:{n}",
        outcome="info",
        details={"line": n, "text": line[:4000], "error": error[:500]},
    )
