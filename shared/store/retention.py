"""Retention: immutable records leave the store only here, each purge signed and itself audited.

Defaults (vision, "Historical Data for Reports"): cost snapshots 90 days, audit log one year; compliance
reports follow the audit period. A purge removes the oldest *prefix* of a chain -- up to the first record that
is still young -- so the chain that remains starts from a signed marker and still verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from escher.audit import AuditRecord
from escher.config import RetentionSettings
from escher.store.ledger import LedgerEntry, purge_message

if TYPE_CHECKING:
    from escher.store.store import Store

__all__ = ["PurgeResult", "purge", "retention_days"]


@dataclass(frozen=True)
class PurgeResult:
    chain: str
    through_seq: int
    removed: int
    cutoff: datetime


def retention_days(settings: RetentionSettings) -> dict[str, int]:
    return {"cost": settings.cost_days, "audit": settings.audit_days, "compliance": settings.audit_days}


def purge(
    store: Store, settings: RetentionSettings | None = None, *, now: datetime | None = None
) -> list[PurgeResult]:
    """Delete what is past retention, chain by chain, each in one transaction with its marker and audit."""
    from escher.store.ledger import _lock_key

    now = now or datetime.now(UTC)
    results: list[PurgeResult] = []
    conn = store.connection
    for chain, days in retention_days(settings or RetentionSettings()).items():
        cutoff = now - timedelta(days=days)
        with store._lock, conn.transaction():
            for name in sorted({chain, "audit"}):  # the same lock order as Ledger.append: no deadlock
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(name),))
            young = conn.execute(
                "SELECT min(seq) FROM reports WHERE chain = %s AND at >= %s", (chain, cutoff)
            ).fetchone()
            if young is not None and young[0] is not None:
                through = int(young[0]) - 1
            else:
                last = conn.execute("SELECT max(seq) FROM reports WHERE chain = %s", (chain,)).fetchone()
                through = int(last[0]) if last and last[0] is not None else 0
            row = conn.execute(
                "SELECT hash, (SELECT count(*) FROM reports WHERE chain = %s AND seq <= %s)"
                " FROM reports WHERE chain = %s AND seq = %s",
                (chain, through, chain, through),
            ).fetchone()
            if row is None or int(row[1]) == 0:
                continue
            through_hash, removed = str(row[0]), int(row[1])
            conn.execute("SELECT set_config('escher.purge_chain', %s, true)", (chain,))
            conn.execute("SELECT set_config('escher.purge_through', %s, true)", (str(through),))
            ids = [
                str(r[0])
                for r in conn.execute(
                    "DELETE FROM reports WHERE chain = %s AND seq <= %s RETURNING record_id", (chain, through)
                )
            ]
            conn.execute(
                "DELETE FROM search_docs WHERE doc_id = ANY(%s)", ([f"reports/{chain}/{i}" for i in ids],)
            )
            at = now.isoformat()
            signature = store.key.sign(purge_message(chain, through, through_hash, removed, at))
            conn.execute(
                "INSERT INTO ledger_purges (chain, through_seq, through_hash, removed, at, key_id, signature)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (chain, through, through_hash, removed, at, store.key.key_id, signature),
            )
            conn.execute("SELECT set_config('escher.purge_through', '0', true)")
            record = AuditRecord(
                actor="escher:retention",
                action="store.retention.purge",
                target=f"ledger/{chain}",
                outcome="info",
                reason=f"older than {days} days (before {cutoff.date().isoformat()})",
                details={
                    "chain": chain,
                    "through_seq": through,
                    "through_hash": through_hash,
                    "removed": removed,
                },
            )
            store.ledger.append([LedgerEntry.from_audit(record)])
        results.append(PurgeResult(chain, through, removed, cutoff))
    return results
