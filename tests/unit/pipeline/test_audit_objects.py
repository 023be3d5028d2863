"""Audit objects: written once, readable, and any later edit is caught by verify()."""

from __future__ import annotations

import json

import pytest

from escher.audit import AuditRecord
from escher.audit.objects import AuditIntegrityError, ObjectAuditSink
from escher.pipeline.objects import MemoryObjects


def test_an_audit_object_is_written_once_and_an_edit_is_detected() -> None:
    objects = MemoryObjects()
    sink = ObjectAuditSink(objects)
    record = AuditRecord(
        actor="worker:aws", action="aws.s3.block_public_access", target="b", outcome="verified"
    )
    sink.append(record)
    sink.append(record.model_copy(update={"outcome": "failed"}))  # same id: a redelivery changes nothing
    assert sink.records() == [record] and sink.verify() == 1

    [key] = objects.list("audit/")
    envelope = json.loads(objects.get(key).data)  # type: ignore[union-attr]
    envelope["record"]["outcome"] = "failed"
    objects.put(key, json.dumps(envelope).encode())
    with pytest.raises(AuditIntegrityError, match="does not match its content hash"):
        sink.verify()
