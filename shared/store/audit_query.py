"""Reading the audit chain back: filters for ``escher audit list|show|export`` and the export formats.

Filters run in SQL over the chain's rows (time and cloud on indexed columns, actor/action/target/outcome on the
record's JSON), newest first. Exports carry each record's sequence number and chain hash, so a reader can tie a
line back to the ledger; OCSF is the API Activity class (6003) of OCSF 1.1, one event per line.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from escher.audit import AuditRecord
from escher.store.errors import StoreError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "AuditQuery",
    "AuditRow",
    "ExportFormat",
    "export_lines",
    "find_audit",
    "parse_when",
    "query_audit",
]

ExportFormat = Literal["jsonl", "csv", "ocsf"]
_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, *, now: datetime | None = None) -> datetime:
    """``2026-03-01``, ``2026-03-01T12:00``, or ``30m`` / ``24h`` / ``7d`` / ``2w`` ago."""
    text = value.strip()
    if match := _RELATIVE.match(text):
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise StoreError(
            f"{value!r} is not a time",
            hint="give a date (2026-03-01), a time (2026-03-01T12:00) or 24h / 7d ago",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AuditQuery:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None  # part of the actor, any case: 'alice' finds 'user:alice'
    action: str | None = None  # an operation id or its prefix: 'aws.ec2' finds every EC2 operation
    target: str | None = None  # part of the resource id
    cloud: str | None = None
    outcome: str | None = None
    limit: int | None = 100


@dataclass(frozen=True)
class AuditRow:
    seq: int
    hash: str
    record: AuditRecord

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, **self.record.model_dump(mode="json")}


def _parse(seq: int, digest: str, payload: str) -> AuditRow:
    data = json.loads(payload)
    data.pop("collection", None)
    return AuditRow(int(seq), str(digest), AuditRecord.model_validate(data))


def query_audit(conn: psycopg.Connection[Any], q: AuditQuery) -> Iterator[AuditRow]:
    where = ["chain = 'audit'"]
    params: dict[str, Any] = {}
    if q.since is not None:
        where.append("at >= %(since)s")
        params["since"] = q.since
    if q.until is not None:
        where.append("at < %(until)s")
        params["until"] = q.until
    if q.cloud:
        where.append("cloud = %(cloud)s")
        params["cloud"] = q.cloud
    if q.actor:
        where.append("payload::jsonb ->> 'actor' ILIKE %(actor)s")
        params["actor"] = f"%{_like(q.actor)}%"
    if q.action:
        where.append(
            "(payload::jsonb ->> 'action' = %(action)s OR payload::jsonb ->> 'action' LIKE %(prefix)s)"
        )
        params["action"], params["prefix"] = q.action, f"{_like(q.action)}.%"
    if q.target:
        where.append("payload::jsonb ->> 'target' ILIKE %(target)s")
        params["target"] = f"%{_like(q.target)}%"
    if q.outcome:
        where.append("payload::jsonb ->> 'outcome' = %(outcome)s")
        params["outcome"] = q.outcome
    sql = f"SELECT seq, hash, payload FROM reports WHERE {' AND '.join(where)} ORDER BY seq DESC"
    if q.limit is not None:
        sql += " LIMIT %(limit)s"
        params["limit"] = q.limit
    for seq, digest, payload in conn.execute(sql, params):
        yield _parse(seq, digest, payload)


def find_audit(conn: psycopg.Connection[Any], ref: str) -> AuditRow | None:
    """One record by its id, a unique prefix of it (8+ characters), or its sequence number."""
    if ref.isdigit() and len(ref) < 12:
        row = conn.execute(
            "SELECT seq, hash, payload FROM reports WHERE chain = 'audit' AND seq = %s", (int(ref),)
        ).fetchone()
        return _parse(*row) if row else None
    rows = conn.execute(
        "SELECT seq, hash, payload FROM reports WHERE chain = 'audit' AND record_id LIKE %s ORDER BY seq LIMIT 2",
        (f"{_like(ref)}%",),
    ).fetchall()
    if len(rows) > 1 and rows[0][0] != rows[1][0]:
        exact = [r for r in rows if json.loads(r[2]).get("record_id") == ref]
        if not exact:
            raise StoreError(f"{ref!r} matches more than one record", hint="give more of the record id")
        rows = exact
    return _parse(*rows[0]) if rows else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- export ---------------------------------------------------------------------------------------------------
CSV_COLUMNS = ("seq", "at", "actor", "action", "target", "cloud", "outcome", "reason", "correlation_id",
               "record_id", "hash")  # fmt: skip


def export_lines(rows: Iterable[AuditRow], fmt: ExportFormat | str) -> Iterator[str]:
    """The export, line by line (each ends with a newline)."""
    if fmt not in ("jsonl", "csv", "ocsf"):
        raise StoreError(f"unknown export format {fmt!r}", hint="use jsonl, csv or ocsf")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            data = row.to_json()
            writer.writerow(["" if data.get(c) is None else data[c] for c in CSV_COLUMNS])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        if buf.getvalue():  # no rows: the header alone
            yield buf.getvalue()
        return
    for row in rows:
        data = row.to_json() if fmt == "jsonl" else ocsf_event(row)
        yield json.dumps(data, sort_keys=True) + "\n"


_FAILED = {"failed", "refused", "rejected", "verify_failed"}


def ocsf_event(row: AuditRow) -> dict[str, Any]:
    """OCSF 1.1 API Activity (class 6003): who called which operation on what, and whether it worked."""
    r = row.record
    activity = {"dry_run": 2, "planned": 2, "info": 99}.get(r.outcome, 3)  # 2 read, 3 update, 99 other
    status_id = 2 if r.outcome in _FAILED else 1
    event: dict[str, Any] = {
        "activity_id": activity,
        "category_uid": 6,
        "class_uid": 6003,
        "type_uid": 6003 * 100 + activity,
        "severity_id": 3 if r.outcome in _FAILED else 1,
        "status_id": status_id,
        "status": "Failure" if status_id == 2 else "Success",
        "status_detail": r.outcome,
        "time": int(r.at.timestamp() * 1000),
        "message": f"{r.actor} {r.action} {r.target} {r.outcome}".strip(),
        "actor": {"user": {"name": r.actor}},
        "api": {"operation": r.action, "request": {"uid": r.correlation_id or r.record_id}},
        "resources": [{"uid": r.target}] if r.target else [],
        "metadata": {
            "version": "1.1.0",
            "uid": r.record_id,
            "product": {"name": "Escher", "vendor_name": "Escher"},
            "sequence": row.seq,
            "correlation_uid": r.correlation_id,
        },
        "unmapped": {"reason": r.reason, "chain_hash": row.hash, "details": r.details},
    }
    if r.cloud:
        event["cloud"] = {"provider": {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}[r.cloud]}
        if region := r.details.get("region"):
            event["cloud"]["region"] = region
    return event
