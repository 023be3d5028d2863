"""Alert records (what the pipeline stores for each event it handled), their store, and the banners."""

from __future__ import annotations

from escher.alerts.model import Alert, AlertStatus, Delivery, alert_id_for
from escher.alerts.store import AlertNotFoundError, AlertStore

__all__ = [
    "Alert",
    "AlertNotFoundError",
    "AlertStatus",
    "AlertStore",
    "Delivery",
    "alert_id_for",
]
