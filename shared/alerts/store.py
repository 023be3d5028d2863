"""Where alerts and their audit records live: objects in the state storage (a directory on a laptop).

NOTE for the ``escher.store`` owner: the alerts & events collection should take these records too
(``AlertRecord(alert_kind="alert")``); :class:`AlertStore` is the whole interface the pipeline and the CLI use.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from escher.alerts.model import Alert
from escher.audit import AuditRecord
from escher.errors import EscherError, NotFoundError
from escher.pipeline.objects import PipelineObjects

__all__ = ["AlertNotFoundError", "AlertStore", "AuditIntegrityError", "ObjectAuditSink"]


class AlertNotFoundError(NotFoundError):
    """No alert has this id."""


class AuditIntegrityError(EscherError):
    """An audit object does not match its content hash: it was changed after it was written."""

    exit_code = 5


class AlertStore:
    PREFIX = "alerts/"

    def __init__(self, objects: PipelineObjects) -> None:
        self.objects = objects

    def put(self, alert: Alert) -> None:
        self.objects.put(f"{self.PREFIX}{alert.alert_id}.json", alert.model_dump_json().encode())

    def get(self, alert_id: str) -> Alert:
        item = self.objects.get(f"{self.PREFIX}{alert_id}.json")
        if item is None:
            raise AlertNotFoundError(f"no alert {alert_id!r}", hint="list them with 'escher alerts --all'")
        return Alert.model_validate_json(item.data)

    def list(self, *, include_acknowledged: bool = False) -> list[Alert]:
        alerts = []
        for key in self.objects.list(self.PREFIX):
            item = self.objects.get(key)
            if item is not None:
                alerts.append(Alert.model_validate_json(item.data))
        if not include_acknowledged:
            alerts = [a for a in alerts if a.is_open]
        rank = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "INFO": 3}
        return sorted(alerts, key=lambda a: (rank[a.severity], -a.created_at.timestamp()))

    def acknowledge(self, alert_id: str, *, by: str, at: datetime | None = None) -> Alert:
        alert = self.get(alert_id)
        if alert.acknowledged_at is None:
            alert.acknowledged_at = at or datetime.now(UTC)
            alert.acknowledged_by = by
            self.put(alert)
        return alert


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ObjectAuditSink:
    """Append-only audit objects, one per record, each named by its id and carrying its content hash.

    Written create-if-absent: a redelivered event that writes the same record (same id) changes nothing, and no
    record is ever overwritten. In Extend mode the bucket adds WORM retention (Object Lock, immutability policy,
    Bucket Lock). NOTE for the ``escher.store`` owner: the hash-chained Postgres sink can index these.
    """

    PREFIX = "audit/"

    def __init__(self, objects: PipelineObjects, prefix: str = PREFIX) -> None:
        self.objects = objects
        # the pipeline's log of undecided events has the same shape under its own expiring prefix
        self.PREFIX = prefix if prefix.endswith("/") else f"{prefix}/"

    def key_for(self, record: AuditRecord) -> str:
        return f"{self.PREFIX}{record.at.strftime('%Y/%m/%d')}/{record.record_id}.json"

    def append(self, record: AuditRecord) -> None:
        canonical = json.dumps(record.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()
        # the envelope embeds the hashed bytes as they are: encoded once, and what is read back is what was hashed
        envelope = b'{"record":' + canonical + b',"sha256":"' + _sha(canonical).encode() + b'"}'
        self.objects.put_if_absent(self.key_for(record), envelope)

    def records(self, correlation_id: str | None = None) -> list[AuditRecord]:
        out = [self._load(key)[0] for key in self.objects.list(self.PREFIX)]
        if correlation_id is not None:
            out = [r for r in out if r.correlation_id == correlation_id]
        return sorted(out, key=lambda r: r.at)

    def _load(self, key: str) -> tuple[AuditRecord, bool]:
        item = self.objects.get(key)
        if item is None:
            raise AuditIntegrityError(f"audit object {key} vanished", hint="audit objects are never deleted")
        envelope: dict[str, Any] = json.loads(item.data)
        canonical = json.dumps(envelope["record"], sort_keys=True, separators=(",", ":")).encode()
        return AuditRecord.model_validate(envelope["record"]), _sha(canonical) == envelope.get("sha256")

    def verify(self) -> int:
        """Every audit object still matches its hash; returns how many were checked."""
        keys = self.objects.list(self.PREFIX)
        for key in keys:
            record, ok = self._load(key)
            if not ok or not key.endswith(f"/{record.record_id}.json"):
                raise AuditIntegrityError(
                    f"audit object {key} does not match its content hash",
                    hint="it was modified after it was written; restore it from the WORM copy",
                )
        return len(keys)
