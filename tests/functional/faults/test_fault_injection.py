"""Operations under throttling and 5xx: ~20 % of calls to moto fail; everything still completes, once.

The retries are botocore's own (the product's default: adaptive mode, 10 attempts); nothing in Escher loops on
errors. The proxy's log of forwarded requests proves no resource was acted on twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.faults.proxy import FaultProxy
from tests.functional.ops.conftest import make_engine, run

REGION = "us-east-1"
pytestmark = pytest.mark.slow  # botocore backs off for real: ~40 s


@pytest.fixture
def proxy(aws_env: Any) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(upstream_port=aws_env.port, rate=0.2).start()
    yield fault_proxy
    fault_proxy.stop()


def _direct(service: str) -> Any:  # straight to moto: setting up and reading back see no faults
    return boto3.client(service, region_name=REGION)


def _engine(proxy: FaultProxy, sink: MemoryAuditSink) -> Engine:
    ctx = CloudContext(aws_endpoint_url=proxy.url)  # default retries: adaptive, 10 attempts
    return make_engine(ctx, sink, concurrency=4)


def test_every_operation_completes_once_despite_throttling_and_5xx(
    proxy: FaultProxy, sink: MemoryAuditSink
) -> None:
    ec2, s3 = _direct("ec2"), _direct("s3")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=8, MaxCount=8)["Instances"]]
    buckets = [f"data-{n}" for n in range(6)]
    for name in buckets:
        s3.create_bucket(Bucket=name)
    engine = _engine(proxy, sink)

    stopped = run(engine, "aws.ec2.stop_instances", [Target("aws", i, REGION) for i in ids])
    blocked = run(engine, "aws.s3.block_public_access", [Target("aws", b, REGION) for b in buckets])
    versioned = run(engine, "aws.s3.enable_versioning", [Target("aws", b, REGION) for b in buckets])

    assert stopped.ok and blocked.ok and versioned.ok, [r.to_dict() for r in stopped.results if not r.ok]
    assert sum(proxy.faults.values()) >= 5, proxy.faults  # the faults really happened
    # the real state changed
    states = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert {i["State"]["Name"] for r in states for i in r["Instances"]} == {"stopped"}
    for name in buckets:
        assert all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    # and each resource was acted on exactly once
    stops = proxy.mutations("StopInstances")
    assert sorted(r for _, r in stops) == sorted(ids) and set(stops.values()) == {1}
    puts = proxy.mutations("PUT publicAccessBlock", "PUT versioning")
    assert len(puts) == 2 * len(buckets) and set(puts.values()) == {1}, puts
    print(f"\n{proxy.calls} calls, faults injected: {dict(proxy.faults)}")


def test_a_second_run_under_faults_is_a_noop_that_changes_nothing(
    proxy: FaultProxy, sink: MemoryAuditSink
) -> None:
    s3 = _direct("s3")
    s3.create_bucket(Bucket="already")
    engine = _engine(proxy, sink)
    assert run(engine, "aws.s3.block_public_access", [Target("aws", "already", REGION)]).ok
    again = run(engine, "aws.s3.block_public_access", [Target("aws", "already", REGION)])
    assert again.counts() == {"noop": 1}
    assert proxy.mutations("PUT publicAccessBlock") == {("PUT publicAccessBlock", "already"): 1}


def test_a_change_that_never_reached_the_cloud_fails_verification(
    aws_env: Any, sink: MemoryAuditSink
) -> None:
    s3 = _direct("s3")
    s3.create_bucket(Bucket="swallowed")
    proxy = FaultProxy(
        upstream_port=aws_env.port,
        rate=0.0,
        swallow=lambda method, path, body: method == "PUT" and "publicAccessBlock" in path,
    ).start()
    try:
        result = run(_engine(proxy, sink), "aws.s3.block_public_access", [Target("aws", "swallowed", REGION)])
    finally:
        proxy.stop()
    (res,) = result.results
    assert not result.ok and res.outcome == "verify_failed"
    assert res.details["evidence"]["mismatched"]["BlockPublicAcls"] == {"wanted": True, "observed": False}
    assert [r.outcome for r in sink.records if r.action == "aws.s3.block_public_access"] == [
        "succeeded",
        "verify_failed",
    ]
