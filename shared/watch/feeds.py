"""The activity feeds ``escher watch`` reads: one per cloud, account and region, each a few lines of SDK calls.

- AWS CloudTrail ``LookupEvents`` (write events only: ``ReadOnly=false``), per region; items come back as the API
  returns them, ``CloudTrailEvent`` still a JSON string (``escher.events.activity`` reads that shape);
- Azure Activity Log (``Microsoft.Insights/eventtypes/management/values``), per subscription, final entries only
  (``Succeeded``/``Failed``: the ``Started``/``Accepted`` entries of the same operation would be generic noise);
- GCP Cloud Logging ``entries.list`` on the project's admin-activity audit log.

Clients come from the pipeline's :class:`~escher.ops.CloudContext` (the endpoints, credentials and transports the
fixes use), so a test replays responses at the SDK's transport and the real client code runs. Any failure of a
feed is a :class:`FeedUnavailable` carrying the reason: the watch reports it and, for AWS, falls back to the
critical-state check (moto, for one, has no ``LookupEvents``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.ops import CloudContext

__all__ = ["ActivityFeed", "AwsCloudTrailFeed", "AzureActivityLogFeed", "FeedUnavailable", "GcpAuditLogFeed"]

_ARM = "https://management.azure.com"
_LOGGING = "https://logging.googleapis.com/v2/entries:list"


class FeedUnavailable(EscherError):
    """An activity API could not be read this round (not offered, denied, unreachable)."""


class ActivityFeed(Protocol):
    cloud: str

    @property
    def name(self) -> str:
        """The watermark's key: cloud, kind, account, region."""
        ...

    def read(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Every record in [since, until], oldest first where the API allows, as JSON-ready dicts."""
        ...


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass
class AwsCloudTrailFeed:
    cloud_ctx: CloudContext
    region: str
    account: str = "default"
    cloud: str = "aws"

    @property
    def name(self) -> str:
        return f"aws:cloudtrail:{self.account}:{self.region}"

    def read(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        from escher.clouds import aws

        client = self.cloud_ctx.aws("cloudtrail", self.region)
        try:
            pages = client.get_paginator("lookup_events").paginate(
                StartTime=since,
                EndTime=until,
                LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
            )
            items = [item for page in pages for item in page.get("Events", [])]
        except aws.errors() as exc:
            raise FeedUnavailable(
                f"CloudTrail LookupEvents in {self.region} failed: {aws.error_code(exc) or exc}"[:300],
                hint="grant cloudtrail:LookupEvents; meanwhile the critical-state check runs instead",
            ) from exc
        # LookupEvents answers newest first; the pipeline should see the order things happened in
        for item in reversed(items):
            yield {k: _iso(v) for k, v in item.items()}


@dataclass
class AzureActivityLogFeed:
    cloud_ctx: CloudContext
    subscription_id: str
    cloud: str = "azure"

    @property
    def name(self) -> str:
        return f"azure:activitylog:{self.subscription_id}"

    def read(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        from escher.clouds import azure

        client = azure.arm_pipeline_client(
            _ARM, credential_=self.cloud_ctx.azure_credential, transport=self.cloud_ctx.azure_transport
        )
        window = f"eventTimestamp ge '{_z(since)}' and eventTimestamp le '{_z(until)}'"
        url: str | None = (
            f"{_ARM}/subscriptions/{self.subscription_id}/providers/Microsoft.Insights/eventtypes/management/"
            f"values?api-version=2015-04-01&$filter={window}"
        )
        entries: list[dict[str, Any]] = []
        try:
            while url:
                response = client.send_request(azure.request("GET", url))
                response.raise_for_status()
                body = response.json()
                entries += [e for e in body.get("value", []) if isinstance(e, dict)]
                url = body.get("nextLink")
        except azure.errors() as exc:
            raise FeedUnavailable(
                f"Azure Activity Log of {self.subscription_id} failed: {exc}"[:300],
                hint="the identity needs Microsoft.Insights/eventtypes/values/read (Reader has it)",
            ) from exc
        finally:
            client.close()
        final = [e for e in entries if (e.get("status") or {}).get("value") in ("Succeeded", "Failed")]
        yield from sorted(final, key=lambda e: str(e.get("eventTimestamp", "")))


@dataclass
class GcpAuditLogFeed:
    cloud_ctx: CloudContext
    project: str
    cloud: str = "gcp"

    @property
    def name(self) -> str:
        return f"gcp:auditlog:{self.project}"

    def read(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        import requests

        from escher.clouds import gcp

        session = gcp.authorized_session(
            self.cloud_ctx.gcp_credentials, session_adapter=self.cloud_ctx.gcp_session_adapter
        )
        log = f"projects/{self.project}/logs/cloudaudit.googleapis.com%2Factivity"
        body: dict[str, Any] = {
            "resourceNames": [f"projects/{self.project}"],
            "filter": f'logName="{log}" AND timestamp>="{_z(since)}" AND timestamp<="{_z(until)}"',
            "orderBy": "timestamp asc",
            "pageSize": 1000,
        }
        try:
            while True:
                response = session.post(_LOGGING, data=json.dumps(body), timeout=60)
                response.raise_for_status()
                page = response.json()
                yield from (e for e in page.get("entries", []) if isinstance(e, dict))
                token = page.get("nextPageToken")
                if not token:
                    return
                body["pageToken"] = token
        except requests.RequestException as exc:
            raise FeedUnavailable(
                f"Cloud Logging entries.list in {self.project} failed: {exc}"[:300],
                hint="the identity needs logging.logEntries.list (roles/logging.viewer)",
            ) from exc
        finally:
            session.close()


def _z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
