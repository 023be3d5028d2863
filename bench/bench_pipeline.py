"""Event -> verified fix + audit record: latency per event on moto, and the core's own overhead.

    python -m bench.bench_pipeline [--events 200]

1. On moto (one server in this process): each event is a public bucket; the pipeline claims its marker in the
   S3 state bucket (If-None-Match), blocks public access, reads it back, writes the audit object and the alert.
   Wall time per event, p50 / p99. Target p50 <= 50 ms.
2. The core without cloud calls: in-memory state, an in-memory S3 behind the real operation, a recording notifier.
   CPU time per event. Target <= 1 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

TARGET_P50 = 0.050
TARGET_CORE = 0.001


def _pipeline(objects: Any, cloud: Any) -> Any:
    from escher.alerts.store import AlertStore
    from escher.audit.objects import ObjectAuditSink
    from escher.notify import RecordingNotifier
    from escher.pipeline.core import Pipeline
    from escher.pipeline.deadletter import MemoryDeadLetters
    from escher.pipeline.markers import Markers
    from escher.policy.approvals import MemoryApprovalStore
    from escher.policy.remediation import RemediationSettings
    from escher.rules import RuleSet

    return Pipeline(
        worker="aws",
        markers=Markers(objects),
        audit=ObjectAuditSink(objects),
        alerts=AlertStore(objects),
        notifier=RecordingNotifier(),
        dead_letters=MemoryDeadLetters(),
        approvals=MemoryApprovalStore(),
        rules=RuleSet(),
        remediation=RemediationSettings(make_public_buckets_private=True),
        cloud=cloud,
        verify_interval=0.01,
        verify_timeout=5.0,
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _calls_per_event(pipeline: Any, s3: Any, bucket: str) -> int:
    """Round trips of one more event, counted with botocore's own event hooks (the cost model of the p50)."""
    from escher.demo.events import bucket_made_public

    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), False))  # fmt: skip
    counted: list[str] = []
    clients = [s3, pipeline.cloud.aws("s3", "us-east-1")]
    for client in clients:
        client.meta.events.register("before-call.s3", lambda model, **kw: counted.append(model.name))
    pipeline.handle(bucket_made_public("count-calls", bucket), source="eventbridge")
    return len(counted)


def on_moto(n: int) -> dict[str, float]:
    from escher.clouds import aws
    from escher.clouds.aws.state import S3Store
    from escher.demo.events import bucket_made_public
    from escher.emulators import MotoEmulator
    from escher.ops import CloudContext
    from escher.pipeline.objects import StateObjects

    with MotoEmulator() as moto:
        saved = dict(os.environ)
        os.environ.update(moto.env())
        try:
            s3 = aws.client("s3", "us-east-1", retries={"mode": "standard", "max_attempts": 1})
            s3.create_bucket(Bucket="escher-state-bench")
            names = [f"bench-{i:04d}" for i in range(n)]
            for name in names:
                s3.create_bucket(Bucket=name)
            pipeline = _pipeline(
                StateObjects(S3Store("escher-state-bench", client=s3)),
                CloudContext(aws_retries={"max_attempts": 1}),
            )
            events = [bucket_made_public(f"bench-evt-{i}", name) for i, name in enumerate(names)]
            s3.create_bucket(Bucket="bench-warm-up")
            pipeline.handle(
                bucket_made_public("warm-up", "bench-warm-up"), source="eventbridge"
            )  # first-use imports
            latencies, outcomes = [], set()
            for event in events:
                start = time.perf_counter()
                outcomes.add(pipeline.handle(event, source="eventbridge").outcome.value)
                latencies.append(time.perf_counter() - start)
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket="escher-state-bench", Prefix="audit/")
            audits = sum(page.get("KeyCount", 0) for page in pages)
            calls = _calls_per_event(pipeline, s3, names[0])
        finally:
            os.environ.clear()
            os.environ.update(saved)
    p50, p99 = statistics.median(latencies), _percentile(latencies, 0.99)
    print(
        f"on moto, {n} events (event -> verified fix + audit object + alert): p50 {p50 * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms "
        f"[{'ok' if p50 <= TARGET_P50 else 'OVER TARGET'} p50 <= {TARGET_P50 * 1000:.0f} ms]; outcomes {sorted(outcomes)}"
    )
    print(f"  audit objects in the state bucket: {audits} (one per event); {calls} S3 calls per event")
    return {"moto_p50": p50, "moto_p99": p99}


def _engine_alone(n: int) -> float:
    """CPU per event of the engine by itself (same fake S3, same gate), to separate the pipeline's own cost."""
    from escher.audit import MemoryAuditSink
    from escher.ops import Engine, Target
    from escher.policy.gate import Gate
    from escher.policy.personas import Actor, Persona
    from escher.policy.remediation import RemediationSettings
    from tests.unit.pipeline.fakes import FakeS3, FakeS3Context

    names = [f"engine-{i:05d}" for i in range(n)]
    sink, actor = MemoryAuditSink(), Actor("aws", Persona.automation)
    gate = Gate(actor, sink, remediation=RemediationSettings(make_public_buckets_private=True))
    engine = Engine(FakeS3Context(FakeS3(names)), sink, gate, verify_interval=0.01, verify_timeout=5.0)
    start = time.process_time()
    for name in names:  # plan + execute in one call, as the pipeline runs a pre-approved fix
        engine.run("aws.s3.block_public_access", [Target("aws", name, "us-east-1")], actor=str(actor))
    return (time.process_time() - start) / n


def core_only(n: int) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from escher.demo.events import bucket_made_public
    from escher.pipeline.objects import MemoryObjects
    from tests.unit.pipeline.fakes import FakeS3, FakeS3Context

    names = [f"core-{i:05d}" for i in range(n)]
    s3 = FakeS3(names)
    pipeline = _pipeline(MemoryObjects(), FakeS3Context(s3))
    events = [bucket_made_public(f"core-evt-{i}", name) for i, name in enumerate(names)]
    pipeline.handle(bucket_made_public("warm-up", names[0]), source="eventbridge")
    cpu, wall = [], []
    for event in events:
        c0, w0 = time.process_time(), time.perf_counter()
        pipeline.handle(event, source="eventbridge")
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    per_cpu = sum(cpu) / n
    engine_cpu = _engine_alone(n)
    print(
        f"core without cloud calls, {n} events: {per_cpu * 1000:.3f} ms CPU per event "
        f"(wall p50 {statistics.median(wall) * 1000:.3f} ms, p99 {_percentile(wall, 0.99) * 1000:.3f} ms) "
        f"[{'ok' if per_cpu <= TARGET_CORE else 'OVER TARGET'} <= {TARGET_CORE * 1000:.0f} ms]; actions {s3.puts}"
    )
    print(
        f"  of which the ops engine's plan + execute + verify alone: {engine_cpu * 1000:.3f} ms; the pipeline's "
        f"own share (normalize, enrich, rules, markers, audit, alert, notify): {(per_cpu - engine_cpu) * 1000:.3f} ms"
    )
    return {"core_cpu": per_cpu, "core_wall_p50": statistics.median(wall)}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args(argv if argv is not None else [])
    return {**core_only(max(args.events, 1000)), **on_moto(args.events)}


if __name__ == "__main__":
    main(sys.argv[1:])
