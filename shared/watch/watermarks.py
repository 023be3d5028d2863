"""Where each activity feed was read up to: one small JSON object per feed in the state storage.

A watermark survives restarts because it lives beside the markers (``watch/watermarks/<feed>.json`` in
``ESCHER_STATE_URL`` or ``<data dir>/state``). It is moved only after every event up to it was handed to the
pipeline, and a feed is re-read from a little before it (:data:`OVERLAP`): activity APIs deliver late
(CloudTrail: typically within 5 to 15 minutes), so an event stamped before the watermark can appear after it was
written. What the overlap reads twice the pipeline's idempotency markers answer as ``duplicate``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from escher.pipeline.objects import PipelineObjects

__all__ = ["OVERLAP", "Watermarks"]

OVERLAP = timedelta(minutes=15)
_PREFIX = "watch/watermarks/"


def _key(feed: str) -> str:
    return _PREFIX + re.sub(r"[^A-Za-z0-9._-]", "_", feed) + ".json"


@dataclass
class Watermarks:
    objects: PipelineObjects

    def get(self, feed: str) -> datetime | None:
        found = self.objects.get(_key(feed))
        if found is None:
            return None
        return datetime.fromisoformat(json.loads(found.data)["until"])

    def since(self, feed: str, now: datetime, lookback: timedelta) -> datetime:
        """Where the next read of ``feed`` starts: the watermark less the overlap, else ``now - lookback``."""
        mark = self.get(feed)
        return now - lookback if mark is None else mark - OVERLAP

    def advance(self, feed: str, until: datetime) -> None:
        """Move the watermark forward (never back: a late, older read must not rewind it)."""
        current = self.get(feed)
        if current is not None and current >= until:
            return
        self.objects.put(_key(feed), json.dumps({"feed": feed, "until": until.isoformat()}).encode())
