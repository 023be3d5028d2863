"""Small adapters that let the pipeline keep its state in object storage (the worker's only storage).

- :class:`ObjectApprovalStore`: ``escher.policy``'s ``ApprovalStore`` over objects (``approvals/<id>.json``);
- :class:`InventoryEstate`: ``escher.events``' ``EstateLookup`` over the latest scan inventory (``estate/latest``);
- :class:`MorningQueue`: INFO alerts wait here for the next morning report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from escher.events.enrich import EstateRecord
from escher.events.model import CloudProvider
from escher.pipeline.objects import PipelineObjects
from escher.policy.approvals import ApprovalRequest

__all__ = ["ESTATE_KEY", "InventoryEstate", "MorningQueue", "ObjectApprovalStore"]

ESTATE_KEY = "estate/latest.json"


class ObjectApprovalStore:
    PREFIX = "approvals/"

    def __init__(self, objects: PipelineObjects) -> None:
        self.objects = objects

    def put(self, request: ApprovalRequest) -> None:
        self.objects.put(f"{self.PREFIX}{request.request_id}.json", request.model_dump_json().encode())

    def get(self, request_id: str) -> ApprovalRequest | None:
        item = self.objects.get(f"{self.PREFIX}{request_id}.json")
        return None if item is None else ApprovalRequest.model_validate_json(item.data)

    def all(self) -> list[ApprovalRequest]:
        out = []
        for key in self.objects.list(self.PREFIX):
            item = self.objects.get(key)
            if item is not None:
                out.append(ApprovalRequest.model_validate_json(item.data))
        return out


class InventoryEstate:
    """Resources as the last scan saw them (``escher.scans`` inventory records), by cloud and id.

    CloudTrail names an S3 bucket by ARN while the scan keys it by name: both are indexed.
    """

    def __init__(self, records: Iterable[dict[str, Any]]) -> None:
        self._index: dict[tuple[str, str], EstateRecord] = {}
        for rec in records:
            tags = {str(k): str(v) for k, v in (rec.get("tags") or {}).items()}
            entry = EstateRecord(tags=tags, owner=tags.get("owner") or tags.get("Owner"))
            cloud, rid = str(rec["cloud"]), str(rec["id"])
            self._index[(cloud, rid)] = entry
            if rec.get("type") == "aws.s3.bucket":
                self._index[(cloud, f"arn:aws:s3:::{rid}")] = entry

    @classmethod
    def load(cls, objects: PipelineObjects, key: str = ESTATE_KEY) -> InventoryEstate | None:
        item = objects.get(key)
        if item is None:
            return None
        return cls(json.loads(item.data).get("records", []))

    def find_resource(self, cloud: CloudProvider, account_id: str, resource_id: str) -> EstateRecord | None:
        return self._index.get((cloud.value, resource_id))


class MorningQueue:
    PREFIX = "morning-report/"

    def __init__(self, objects: PipelineObjects) -> None:
        self.objects = objects

    def add(self, alert_id: str, title: str, body: str) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        payload = {"alert_id": alert_id, "title": title, "body": body}
        self.objects.put_if_absent(f"{self.PREFIX}{day}/{alert_id}.json", json.dumps(payload).encode())

    def pending(self, day: str | None = None) -> list[dict[str, Any]]:
        prefix = f"{self.PREFIX}{day}/" if day else self.PREFIX
        out = []
        for key in self.objects.list(prefix):
            item = self.objects.get(key)
            if item is not None:
                out.append(json.loads(item.data))
        return out
