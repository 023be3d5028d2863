"""Google Cloud's activity feed for ``escher watch``: Cloud Logging ``entries.list`` on the project's
admin-activity audit log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from escher.watch.feeds import FeedUnavailable, WatchSources, utc_z

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.ops import CloudContext

__all__ = ["GcpAuditLogFeed", "watch_sources"]

_LOGGING = "https://logging.googleapis.com/v2/entries:list"


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
            "filter": f'logName="{log}" AND timestamp>="{utc_z(since)}" AND timestamp<="{utc_z(until)}"',
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


def watch_sources(ctx: CloudContext, settings: Settings) -> WatchSources:
    """The admin-activity audit log of the configured project (none without one)."""
    project = settings.gcp.project
    return WatchSources([GcpAuditLogFeed(ctx, project)] if project else [])
