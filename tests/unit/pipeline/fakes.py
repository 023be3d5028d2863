"""Fakes for the pipeline's unit tests: real-shaped events and an in-memory S3 behind the real operation.

``FakeS3`` answers the three calls ``aws.s3.block_public_access`` makes (head_bucket, get/put public access
block) with botocore's own error type, so the catalogue's operation and the engine run unchanged; it counts the
changes it receives (the "actions").
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from escher.demo.events import bucket_made_public, security_group_opened
from escher.ops import CloudContext

SAMPLES = Path(__file__).parents[1] / "events" / "samples"


# Real-shaped EventBridge deliveries: the same builders the demo uses.
bucket_public_event = bucket_made_public
sg_open_event = security_group_opened


def _error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


class FakeS3:
    def __init__(self, buckets: list[str]) -> None:
        self.blocks: dict[str, dict[str, bool]] = {b: {} for b in buckets}
        self.puts = 0
        self._lock = threading.Lock()

    def head_bucket(self, Bucket: str) -> dict[str, Any]:
        if Bucket not in self.blocks:
            raise _error("404", "HeadBucket")
        return {}

    def get_public_access_block(self, Bucket: str) -> dict[str, Any]:
        with self._lock:
            conf = dict(self.blocks[Bucket])
        if not conf:
            raise _error("NoSuchPublicAccessBlockConfiguration", "GetPublicAccessBlock")
        return {"PublicAccessBlockConfiguration": conf}

    def put_public_access_block(
        self, Bucket: str, PublicAccessBlockConfiguration: dict[str, bool]
    ) -> dict[str, Any]:
        with self._lock:
            self.blocks[Bucket] = dict(PublicAccessBlockConfiguration)
            self.puts += 1
        return {}


class FakeS3Context(CloudContext):
    """A CloudContext whose S3 client is the in-memory fake (every other service is unavailable)."""

    def __init__(self, s3: FakeS3) -> None:
        super().__init__()
        self.s3 = s3

    def aws(self, service: str, region: str | None = None) -> Any:
        assert service == "s3", f"the fake cloud has no {service}"
        return self.s3
