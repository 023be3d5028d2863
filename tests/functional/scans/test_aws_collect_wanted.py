"""``escher scan --checks`` collects only what the chosen checks read, on moto: the requests that reach the
server (logged by a proxy) are the few those checks need, and the verdicts are the same as after collecting
everything (the daily scan)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from escher.clouds.aws.collect import AwsCollector, wants_of
from escher.emulators import MotoEmulator
from escher.scans.engine import run_checks, select_checks
from tests.functional.faults.proxy import FaultProxy
from tests.functional.scans.estate import REGION, seed

FOUR = ["aws.s3.bucket_public", "aws.s3.bucket_public_access_block", "aws.ec2.volume_encrypted",
        "aws.ec2.sg_open_ssh"]  # fmt: skip


@pytest.fixture
def proxy(aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    logged = FaultProxy(upstream_port=aws_env.port, rate=0.0).start()  # no faults: it only logs
    monkeypatch.setenv("AWS_ENDPOINT_URL", logged.url)
    yield logged
    logged.stop()


def _verdicts(wants: Any) -> set[tuple[str, str]]:
    checks = select_checks(FOUR)
    inventory = AwsCollector([REGION], max_attempts=1, wants=wants).collect()
    assert not inventory.errors, inventory.errors
    return {(f.check_id, f.resource_id) for f in run_checks(inventory, checks).findings}


def test_the_four_checks_read_only_buckets_acls_policies_blocks_tags_volumes_and_groups(
    aws_env: MotoEmulator, proxy: FaultProxy
) -> None:
    truth = seed(
        6
    )  # 6 each of buckets, volumes, groups and instances with CPU metrics, half failing each check
    proxy.forwarded.clear()
    found = _verdicts(wants_of(select_checks(FOUR)))
    made = Counter(f.action for f in proxy.forwarded)
    # "POST": the Tagging API's GetResources (a JSON API: the proxy names it by method), every bucket's tags
    assert set(made) == {"GetCallerIdentity", "GET max-buckets", "GET publicAccessBlock", "GET acl", "GET policy",
                         "POST", "DescribeVolumes", "DescribeSecurityGroups"}, made  # fmt: skip
    assert made["GET publicAccessBlock"] == 6
    assert made["POST"] == 1
    # the blocked half's ACL and policy cannot make them public: not read
    assert made["GET acl"] == made["GET policy"] == 3
    assert {r for c, r in found if c == "aws.s3.bucket_public"} == truth.public_buckets
    assert {r for c, r in found if c == "aws.ec2.volume_encrypted"} >= truth.unencrypted_volumes
    assert {r for c, r in found if c == "aws.ec2.sg_open_ssh"} == truth.open_groups

    proxy.forwarded.clear()
    assert _verdicts(None) == found  # collecting everything decides the same
    everything = Counter(f.action for f in proxy.forwarded)
    assert {"DescribeInstances", "GET versioning", "GenerateCredentialReport"} <= set(everything)
    assert sum(everything.values()) > 2 * sum(made.values())
