"""At-least-once deliveries: duplicates, concurrency and a crash between the action and the audit write."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from escher.audit.objects import ObjectAuditSink
from escher.pipeline.core import Outcome, PipelineResult
from escher.pipeline.errors import EventInProgressError
from escher.pipeline.markers import Markers
from escher.pipeline.objects import LocalObjects, MemoryObjects, PipelineObjects
from tests.unit.pipeline.conftest import PipelineFactory
from tests.unit.pipeline.fakes import FakeS3, bucket_public_event


class SimulatedCrash(Exception):
    """The process dies here (the Lambda times out, the container is killed)."""


def deliver_concurrently(
    make_pipeline: PipelineFactory, objects: PipelineObjects, n: int, copies: int
) -> tuple[FakeS3, list[PipelineResult]]:
    buckets = [f"bucket-{i:04d}" for i in range(n)]
    s3 = FakeS3(buckets)
    pipeline = make_pipeline(s3, objects=objects)
    deliveries = [
        bucket_public_event(f"evt-{i:04d}", b) for i, b in enumerate(buckets) for _ in range(copies)
    ]
    random.Random(7).shuffle(deliveries)

    def deliver(payload: dict[str, Any]) -> PipelineResult | dict[str, Any]:
        try:
            return pipeline.handle(payload, source="eventbridge")
        except EventInProgressError:
            return payload  # the platform redelivers it later

    with ThreadPoolExecutor(max_workers=16) as pool:
        first = list(pool.map(deliver, deliveries))
    retried = [pipeline.handle(p, source="eventbridge") for p in first if isinstance(p, dict)]
    results = [r for r in first if isinstance(r, PipelineResult)] + retried
    return s3, results


def test_1000_events_delivered_3_times_concurrently_act_and_audit_exactly_once(
    make_pipeline: PipelineFactory,
) -> None:
    objects = MemoryObjects()
    s3, results = deliver_concurrently(make_pipeline, objects, 1000, 3)
    assert s3.puts == 1000
    assert len(ObjectAuditSink(objects).records()) == 1000
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.auto_resolved) == 1000
    assert outcomes.count(Outcome.duplicate) == 2000
    assert len(objects.list("alerts/")) == 1000


def test_local_directory_markers_hold_under_concurrency(
    make_pipeline: PipelineFactory, tmp_path: Path
) -> None:
    objects = LocalObjects(tmp_path / "state")
    s3, results = deliver_concurrently(make_pipeline, objects, 100, 3)
    assert s3.puts == 100
    assert len(ObjectAuditSink(objects).records()) == 100
    assert [r.outcome for r in results].count(Outcome.duplicate) == 200


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 2, 9, 15, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_crash_between_action_and_audit_is_completed_by_the_redelivery_without_acting_again(
    make_pipeline: PipelineFactory,
) -> None:
    # GIVEN a worker that dies right after the fix, before the audit record is written
    s3, objects, clock = FakeS3(["my-data"]), MemoryObjects(), Clock()
    markers = Markers(objects, lease=timedelta(minutes=5), clock=clock)

    def crash(stage: str) -> None:
        if stage == "acted":
            raise SimulatedCrash(stage)

    crashing = make_pipeline(s3, objects=objects, markers=markers, fault=crash)
    event = bucket_public_event("evt-crash", "my-data")
    with pytest.raises(SimulatedCrash):
        crashing.handle(event, source="eventbridge")
    assert s3.puts == 1 and ObjectAuditSink(objects).records() == []
    # WHEN the platform redelivers while the dead attempt's lease still runs: not yet
    healthy = make_pipeline(s3, objects=objects, markers=markers)
    with pytest.raises(EventInProgressError):
        healthy.handle(event, source="eventbridge")
    # ... and again after the lease expired
    clock.now += timedelta(minutes=6)
    result = healthy.handle(event, source="eventbridge")
    # THEN the audit is completed from the marker, and the bucket was changed once
    assert result.outcome is Outcome.auto_resolved
    assert s3.puts == 1
    [record] = ObjectAuditSink(objects).records()
    assert record.outcome == "verified" and record.details["resumed"] is True
    marker = markers.read("aws", "evt-crash", "aws.s3.block_public_access")
    assert marker is not None
    assert [h["stage"] for h in marker["history"]] == ["claimed", "acted", "resumed", "audited", "done"]
    # and one more delivery is a duplicate
    assert healthy.handle(event, source="eventbridge").outcome is Outcome.duplicate


def test_crash_after_claim_before_action_redoes_nothing_twice(make_pipeline: PipelineFactory) -> None:
    # the fix ran but the marker never reached "acted": the redelivery re-plans, finds it done (no-op)
    s3, objects, clock = FakeS3(["b"]), MemoryObjects(), Clock()
    markers = Markers(objects, clock=clock)
    first = make_pipeline(s3, objects=objects, markers=markers)
    event = bucket_public_event("evt-x", "b")
    claim = markers.claim("aws", "evt-x", "aws.s3.block_public_access")  # a dead attempt holds the claim...
    assert claim is not None
    s3.put_public_access_block(
        Bucket="b", PublicAccessBlockConfiguration=dict.fromkeys(["BlockPublicAcls"], True)
    )
    clock.now += timedelta(minutes=6)
    result = first.handle(event, source="eventbridge")
    assert result.outcome is Outcome.auto_resolved  # the remaining flags were set by this attempt
    assert s3.puts == 2  # the dead attempt's partial change + one completion; never a repeat after "acted"
    assert first.handle(event, source="eventbridge").outcome is Outcome.duplicate
    assert s3.puts == 2
