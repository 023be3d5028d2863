"""Buckets' tags come from the Resource Groups Tagging API (GetResources, a page of many buckets), not one
GetBucketTagging per bucket: on a moto estate of tagged, untagged and untagged-again buckets in two regions,
the records carry exactly the tags each bucket's own GetBucketTagging returns, in a few requests. An identity
denied the Tagging API still gets every bucket's tags, bucket by bucket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.latency_proxy import LatencyProxy
from escher.clouds.aws.collect import AwsCollector
from escher.emulators import MotoEmulator

REGIONS = ["us-east-1", "eu-west-1"]
BUCKETS = 90  # 3 tags each on most: more than one GetResources page in moto (100 tags a page)


def _client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, config=Config(retries={"max_attempts": 1}))


def _seed() -> dict[str, dict[str, str]]:
    """Buckets in both regions: a third untagged, one tagged then untagged, the rest with 1-3 tags (one with a
    tag whose value is empty). Returns each bucket's tags as GetBucketTagging reads them."""
    for i in range(BUCKETS):
        region = REGIONS[i % 2]
        s3 = _client("s3", region)
        name = f"speed-tags-{i:03d}"
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **extra)
        if i % 3 == 0:
            continue
        tags = {"env": ["prod", "dev", "stage"][i % 3], "Name": name, "team": f"t{i % 7}"}
        tags = dict(list(tags.items())[: 1 + i % 3])
        if i == 4:
            tags["empty"] = ""
        s3.put_bucket_tagging(
            Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
        )
        if i == 5:
            s3.delete_bucket_tagging(Bucket=name)
    s3 = _client("s3", "us-east-1")
    out: dict[str, dict[str, str]] = {}
    for b in s3.list_buckets()["Buckets"]:
        try:
            tag_set = s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"]
        except s3.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "NoSuchTagSet"
            tag_set = []
        out[b["Name"]] = {t["Key"]: t.get("Value", "") for t in tag_set}  # S3 leaves out an empty value
    return out


class _DenyTagging(LatencyProxy):
    """Forwards everything but the Tagging API, which it refuses as AWS refuses an identity without
    ``tag:GetResources``."""

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
        if target.endswith(".GetResources"):
            with self._lock:
                self.by_action["GetResources"] += 1
            payload = b'{"__type": "AccessDeniedException", "message": "not authorized to tag:GetResources"}'
            return 400, [("Content-Type", "application/x-amz-json-1.1")], payload
        return super().answer(method, path, headers, body)


@pytest.fixture
def estate(aws_env: MotoEmulator) -> dict[str, dict[str, str]]:
    return _seed()


@pytest.fixture(params=["tagging api", "denied"])
def proxy(
    request: pytest.FixtureRequest, aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LatencyProxy]:
    kind = LatencyProxy if request.param == "tagging api" else _DenyTagging
    with kind(aws_env.port, delay=0) as counting:
        monkeypatch.setenv("AWS_ENDPOINT_URL", counting.url)
        yield counting


def test_bucket_records_carry_the_same_tags_as_each_buckets_own_tag_read(
    estate: dict[str, dict[str, str]], proxy: LatencyProxy
) -> None:
    assert sum(1 for t in estate.values() if t) >= 50 and sum(1 for t in estate.values() if not t) >= 30
    inventory = AwsCollector(REGIONS, services=["s3"], max_attempts=1).collect()
    assert not inventory.errors, inventory.errors
    got = {r.id: r.tags for r in inventory.records if r.type == "aws.s3.bucket"}
    assert got == estate
    if isinstance(proxy, _DenyTagging):  # refused once per region tried, then each bucket's own read
        assert proxy.by_action["GET tagging"] == BUCKETS
    else:
        assert proxy.by_action["GET tagging"] == 0
        assert 2 <= proxy.by_action["GetResources"] <= 6  # pages of (here) ~33 buckets, per region read
