"""Audit records as objects in the state storage: one object a record, named by its id, carrying its hash.

The worker's sink in an Extension (WORM storage under ``audit/``) and the pipeline's expiring log of undecided
events (same shape, own prefix). The laptop appends what it pulls from here into the ledger
(:mod:`escher.audit.ledger`) after checking each object against its hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from escher.audit import AuditRecord
from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.pipeline.objects import PipelineObjects

__all__ = ["AuditIntegrityError", "ObjectAuditSink"]


class AuditIntegrityError(EscherError):
    """An audit object does not match its content hash: it was changed after it was written."""

    exit_code = 5


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
