"""Amazon S3 (and S3-compatible stores): conditional writes with ``If-None-Match: *`` and ``If-Match: <ETag>``.

S3 has honoured both on PutObject since August / November 2024; a store that ignores them would silently
break the guarantees, so the backend is tested against moto's server, which enforces them (see the README).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from escher.state._base import (
    AlreadyExistsError,
    Blob,
    NotFoundError,
    ObjectInfo,
    StateError,
    VersionConflictError,
)

__all__ = ["S3Store"]


class S3Store:
    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None) -> None:
        from escher.clouds import aws

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        self._client = client if client is not None else aws.client("s3")
        self._errors = aws.errors()

    def _key(self, key: str) -> str:
        return self.prefix + key.lstrip("/")

    def _fail(self, exc: BaseException, key: str, verb: str) -> StateError:
        from escher.clouds import aws

        return StateError(
            f"S3 {verb} of s3://{self.bucket}/{self._key(key)} failed: {aws.error_code(exc) or exc}",
            hint="check that the bucket exists and your credentials may read and write it",
        )

    def get(self, key: str) -> Blob:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self._errors as exc:
            if _code(exc) in {"NoSuchKey", "404", "NotFound"}:
                raise NotFoundError(f"no object {key!r} in {self.url}") from None
            raise self._fail(exc, key, "read") from exc
        return Blob(key, response["Body"].read(), str(response["ETag"]))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for obj in page.get("Contents", []):
                    yield ObjectInfo(obj["Key"][len(self.prefix) :], str(obj["ETag"]), int(obj["Size"]))
        except self._errors as exc:
            raise self._fail(exc, prefix, "list") from exc

    def put_if_absent(self, key: str, data: bytes) -> str:
        try:
            response = self._client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
            )
        except self._errors as exc:
            if _code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                raise AlreadyExistsError(f"{key!r} already exists in {self.url}") from None
            raise self._fail(exc, key, "write") from exc
        return str(response["ETag"])

    def compare_and_swap(self, key: str, data: bytes, expected_version: str) -> str:
        try:
            response = self._client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfMatch=expected_version
            )
        except self._errors as exc:
            # 409 ConditionalRequestConflict: a concurrent conditional write won the race
            if _code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict", "NoSuchKey", "404"}:
                raise VersionConflictError(f"{key!r} changed in {self.url} since it was read") from None
            raise self._fail(exc, key, "write") from exc
        return str(response["ETag"])


def _code(exc: BaseException) -> str:
    from escher.clouds import aws

    return aws.error_code(exc)
