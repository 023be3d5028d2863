"""Daily CPU series -> the attributes the idle and over-provisioned checks read, the same on every cloud.

Azure Monitor and Cloud Monitoring are both asked for one average per day over :data:`DAYS` whole days (UTC
midnight to midnight); :func:`cpu_attrs` turns the points into what ``escher.scans.checks._sizing`` reads,
as the AWS collector does with CloudWatch's: the last week's peak day and the 30-day average.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CPU_ATTRS", "DAYS", "cpu_attrs", "window"]

DAYS = 30
CPU_ATTRS = ("cpu_days", "cpu_max_daily_7d", "cpu_days_30d", "cpu_avg_30d")


def window(now: datetime, days: int = DAYS) -> tuple[datetime, datetime]:
    """``days`` whole days ending at today's UTC midnight: every daily bucket is complete."""
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=days), end


def cpu_attrs(points: Iterable[tuple[datetime, float]], end: datetime) -> dict[str, Any]:
    """``points`` are (day start, average CPU percent); days without data are simply absent."""
    pts = sorted(points, key=lambda p: p[0])
    recent = end - timedelta(days=8)
    last7 = [v for t, v in pts[-7:] if t >= recent]
    return {
        "cpu_days": len(last7),
        "cpu_max_daily_7d": round(max(last7), 2) if last7 else None,
        "cpu_days_30d": len(pts),
        "cpu_avg_30d": round(sum(v for _, v in pts) / len(pts), 2) if pts else None,
    }


def parse_time(value: str) -> datetime:
    """An RFC 3339 stamp (``2026-11-07T00:00:00Z``) as an aware datetime."""
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
