"""AWS's activity feed for ``escher watch``: CloudTrail ``LookupEvents`` (write events only:
``ReadOnly=false``), per region; items come back as the API returns them, ``CloudTrailEvent`` still a JSON string
(``escher.clouds.aws.events`` reads that shape). Where CloudTrail cannot be read (moto, for one, has no
``LookupEvents``) the critical-state check (:class:`escher.watch.state.AwsCriticalState`) runs instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from escher.watch.feeds import ActivityFeed, FeedUnavailable, WatchSources, iso

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.ops import CloudContext

__all__ = ["AwsCloudTrailFeed", "watch_sources"]


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
            yield {k: iso(v) for k, v in item.items()}


def watch_sources(ctx: CloudContext, settings: Settings) -> WatchSources:
    """A CloudTrail feed per configured region of the caller's account, and the critical-state check."""
    from escher.watch.state import AwsCriticalState

    account = _account(ctx)
    feeds: list[ActivityFeed] = [AwsCloudTrailFeed(ctx, region, account) for region in settings.aws.regions]
    return WatchSources(feeds, [(f"aws:{account}", AwsCriticalState(ctx, list(settings.aws.regions)))])


def _account(ctx: CloudContext) -> str:
    from escher.clouds import aws

    try:
        return str(ctx.aws("sts").get_caller_identity()["Account"])
    except aws.errors():
        return "default"
