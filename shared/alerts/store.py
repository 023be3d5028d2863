"""Where alerts and their audit records live: objects in the state storage (a directory on a laptop).

NOTE for the ``escher.store`` owner: the alerts & events collection should take these records too
(``AlertRecord(alert_kind="alert")``); :class:`AlertStore` is the whole interface the pipeline and the CLI use.
"""

from __future__ import annotations

from datetime import UTC, datetime

from escher.alerts.model import Alert
from escher.errors import NotFoundError
from escher.pipeline.objects import PipelineObjects

__all__ = ["AlertNotFoundError", "AlertStore"]


class AlertNotFoundError(NotFoundError):
    """No alert has this id."""


class AlertStore:
    PREFIX = "alerts/"

    def __init__(self, objects: PipelineObjects) -> None:
        self.objects = objects

    def put(self, alert: Alert) -> None:
        self.objects.put(f"{self.PREFIX}{alert.alert_id}.json", alert.model_dump_json().encode())

    def get(self, alert_id: str) -> Alert:
        item = self.objects.get(f"{self.PREFIX}{alert_id}.json")
        if item is None:
            raise AlertNotFoundError(f"no alert {alert_id!r}", hint="list them with 'escher alerts --all'")
        return Alert.model_validate_json(item.data)

    def list(self, *, include_acknowledged: bool = False) -> list[Alert]:
        alerts = []
        for key in self.objects.list(self.PREFIX):
            item = self.objects.get(key)
            if item is not None:
                alerts.append(Alert.model_validate_json(item.data))
        if not include_acknowledged:
            alerts = [a for a in alerts if a.is_open]
        rank = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "INFO": 3}
        return sorted(alerts, key=lambda a: (rank[a.severity], -a.created_at.timestamp()))

    def acknowledge(self, alert_id: str, *, by: str, at: datetime | None = None) -> Alert:
        alert = self.get(alert_id)
        if alert.acknowledged_at is None:
            alert.acknowledged_at = at or datetime.now(UTC)
            alert.acknowledged_by = by
            self.put(alert)
        return alert
