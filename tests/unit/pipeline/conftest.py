"""A pipeline on in-memory parts: fake S3 behind the real operation, in-memory state, recording notifier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from escher.alerts.store import AlertStore
from escher.audit.objects import ObjectAuditSink
from escher.events import EstateRecord, InMemoryEstate
from escher.events.model import CloudProvider
from escher.notify import NotifySettings, RecordingNotifier
from escher.pipeline.core import Pipeline
from escher.pipeline.deadletter import MemoryDeadLetters
from escher.pipeline.markers import Markers
from escher.pipeline.objects import MemoryObjects, PipelineObjects
from escher.policy.approvals import MemoryApprovalStore
from escher.policy.remediation import RemediationSettings
from escher.rules import RuleSet
from tests.unit.pipeline.fakes import FakeS3, FakeS3Context

PipelineFactory = Callable[..., Pipeline]


@pytest.fixture
def make_pipeline() -> PipelineFactory:
    def build(
        s3: FakeS3,
        *,
        objects: PipelineObjects | None = None,
        pre_approve: bool = True,
        pii: tuple[str, ...] = (),
        **overrides: Any,
    ) -> Pipeline:
        objects = objects or MemoryObjects()
        estate = InMemoryEstate()
        for bucket in pii:
            estate.add(
                CloudProvider.aws, f"arn:aws:s3:::{bucket}", EstateRecord(tags={"data_classification": "PII"})
            )
        parts: dict[str, Any] = {
            "worker": "aws",
            "markers": Markers(objects),
            "audit": ObjectAuditSink(objects),
            "alerts": AlertStore(objects),
            "notifier": RecordingNotifier(NotifySettings()),
            "dead_letters": MemoryDeadLetters(),
            "approvals": MemoryApprovalStore(),
            "rules": RuleSet(),
            "remediation": RemediationSettings(make_public_buckets_private=pre_approve),
            "cloud": FakeS3Context(s3),
            "estate": estate,
            "verify_interval": 0.0,
            "verify_timeout": 0.0,
        }
        parts.update(overrides)
        return Pipeline(**parts)

    return build
