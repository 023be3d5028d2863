"""The alert banners' live feed: watch the alert store and say what is new or changed, cheaply.

:class:`AlertWatch` lists the store's alert keys every tick (one directory listing on a laptop) and reads only
the keys it has not seen; every ``full_every`` ticks it reads them all again to notice acknowledgements and
status changes. The ``/events`` stream turns each change into a server-sent event; at 4 ticks a second a new
alert reaches the page well inside a second of being stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from escher.alerts.model import Alert
    from escher.pipeline.objects import PipelineObjects

__all__ = ["AlertChange", "AlertWatch", "sse"]

TICK_SECONDS = 0.25
_PREFIX = "alerts/"


@dataclass(frozen=True)
class AlertChange:
    kind: Literal["alert", "remove"]
    alert: Alert


class AlertWatch:
    def __init__(
        self, objects: PipelineObjects, *, hidden: Callable[[], set[str]] = set, full_every: int = 8
    ) -> None:
        self.objects = objects
        self.hidden = hidden  # alert ids put off until tomorrow
        self.full_every = full_every
        self._versions: dict[str, str] = {}
        self._shown: set[str] = set()
        self._ticks = 0

    def poll(self) -> list[AlertChange]:
        """What changed since the last poll (the first poll: every open alert)."""
        from escher.alerts.model import Alert

        self._ticks += 1
        keys = self.objects.list(_PREFIX)
        full = self._ticks % self.full_every == 1 or self.full_every <= 1
        wanted = keys if full else [k for k in keys if k not in self._versions]
        hidden = self.hidden() if wanted else set()
        changes: list[AlertChange] = []
        for key in wanted:
            item = self.objects.get(key)
            if item is None or self._versions.get(key) == item.version:
                continue
            self._versions[key] = item.version
            try:
                alert = Alert.model_validate_json(item.data)
            except ValueError:  # half-written or foreign: the next full read tries again
                self._versions.pop(key, None)
                continue
            visible = alert.is_open and alert.alert_id not in hidden
            if visible:
                self._shown.add(alert.alert_id)
                changes.append(AlertChange("alert", alert))
            elif alert.alert_id in self._shown:
                self._shown.discard(alert.alert_id)
                changes.append(AlertChange("remove", alert))
        return changes


def sse(event: str, data: str) -> bytes:
    """One server-sent event; ``data`` on as many ``data:`` lines as it has lines."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {event}\n{lines}\n".encode()
