"""Azure's activity feed for ``escher watch``: the Activity Log
(``Microsoft.Insights/eventtypes/management/values``), per subscription, final entries only
(``Succeeded``/``Failed``: the ``Started``/``Accepted`` entries of the same operation would be generic noise).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from escher.watch.feeds import FeedUnavailable, WatchSources, utc_z

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.ops import CloudContext

__all__ = ["AzureActivityLogFeed", "watch_sources"]

_ARM = "https://management.azure.com"


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
        window = f"eventTimestamp ge '{utc_z(since)}' and eventTimestamp le '{utc_z(until)}'"
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


def watch_sources(ctx: CloudContext, settings: Settings) -> WatchSources:
    """The Activity Log of the configured subscription (none without one)."""
    subscription = settings.azure.subscription_id
    return WatchSources([AzureActivityLogFeed(ctx, subscription)] if subscription else [])
