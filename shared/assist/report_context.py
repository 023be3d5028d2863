"""What the client sends the brain for the morning report's own questions, read from the same stored data the
report is built from: the cost snapshots (``escher.scans.cost.stored_snapshots``) and the latest scan's findings.

Cost rows: one item per service (yesterday, the day before, the last 7 days and the 7 before), one per
environment / region / account (``dimension`` + ``breakdown_cost``, so the cost-driver totals never count them
twice) and ``cost:total`` (day, month and week totals). Finding rows carry what an answer needs to point at a fix:
the finding id, check, category, monthly saving and the resource id.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from escher.brain.models import ContextItem
from escher.clouds import CLOUDS
from escher.privacy import cut

if TYPE_CHECKING:
    from collections.abc import Collection

    from escher.scans.cost import CostRow, CostSnapshot
    from escher.scans.persist import ResultStore

__all__ = ["change_items", "cost_items", "finding_items"]

_CLOUDS = CLOUDS


def _window(rows: list[CostRow], end: date, days: int, attr: str = "") -> dict[str, float]:
    start = (end - timedelta(days=days - 1)).isoformat()
    out: dict[str, float] = defaultdict(float)
    for r in rows:
        if start <= r.day <= end.isoformat():
            out[getattr(r, attr) if attr else ""] += r.amount
    return out


def _cloud(snap: CostSnapshot) -> Any:
    return snap.cloud if snap.cloud in _CLOUDS else None


def cost_items(store: ResultStore, *, per_cloud: int = 40) -> list[ContextItem]:
    from escher.scans.cost import stored_snapshots, summarize

    snaps = stored_snapshots(store)
    out: list[ContextItem] = []
    for snap in snaps:
        try:
            summary = summarize([snap])
        except (KeyError, TypeError, ValueError):
            continue  # an unreadable snapshot is no context; the sync that wrote it reported its own errors
        day = date.fromisoformat(summary.day)
        week = _window(snap.rows, day, 7, "service")
        before = _window(snap.rows, day - timedelta(days=7), 7, "service")
        for service, amount, delta in summary.by_service[:per_cloud]:
            out.append(ContextItem(kind="report", id=f"cost:{snap.cloud}:{service}"[:512], cloud=_cloud(snap),
                                   name=str(service)[:256], text=f"cost on {summary.day}",
                                   attrs={"cost": amount, "previous_cost": round(amount - delta, 2),
                                          "week_cost": round(week.get(service, 0.0), 2),
                                          "previous_week_cost": round(before.get(service, 0.0), 2),
                                          "currency": summary.currency}))  # fmt: skip
        for dimension, pairs in (("environment", summary.by_tag), ("region", summary.by_region),
                                 ("account", summary.by_account)):  # fmt: skip
            for value, amount in pairs:
                out.append(ContextItem(kind="report", id=f"cost:{dimension}:{snap.cloud}:{value}"[:512],
                                       cloud=_cloud(snap), name=cut(str(value), 256), text=summary.day,
                                       attrs={"dimension": dimension, "breakdown_cost": amount,
                                              "currency": summary.currency}))  # fmt: skip
    if snaps:
        total = summarize(snaps)
        day = date.fromisoformat(total.day)
        rows = [r for s in snaps for r in s.rows]
        last_7 = sum(_window(rows, day, 7).values())
        prior_7 = sum(_window(rows, day - timedelta(days=7), 7).values())
        out.append(ContextItem(kind="report", id="cost:total", text=total.day,
                               attrs={"day_total": total.yesterday, "previous_day_total": total.previous_day,
                                      "day_change_pct": total.day_delta_pct, "month_to_date": total.month_to_date,
                                      "month_change_pct": total.month_delta_pct, "week_total": round(last_7, 2),
                                      "previous_week_total": round(prior_7, 2), "currency": total.currency}))  # fmt: skip
    return out


def finding_items(
    store: ResultStore, limit: int = 200, accounts: Collection[str] | None = None
) -> list[ContextItem]:
    """The latest scan's failing findings (of ``accounts`` only, when given), cost ones with the largest saving
    first, then by severity."""
    from escher.scans.model import finding_id

    keys = store.keys("scan")
    scan = store.get("scan", keys[-1]) if keys else None
    failed = [f for f in (scan or {}).get("findings", []) if f.get("status") == "FAIL"]
    if accounts is not None:
        failed = [f for f in failed if str(f.get("account") or "") in accounts]
    rank = {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1}
    failed.sort(key=lambda f: (-float(f.get("monthly_saving") or 0.0), -rank.get(str(f.get("severity")), 0)))
    out: list[ContextItem] = []
    for f in failed[:limit]:
        check, rid = str(f.get("check_id")), str(f.get("resource_id"))
        out.append(ContextItem(kind="finding", id=f"{check}:{rid}"[:512],
                               cloud=f.get("cloud") if f.get("cloud") in _CLOUDS else None,
                               account=str(f.get("account") or "")[:128] or None,
                               region=str(f.get("region") or "")[:64] or None,
                               resource_type=str(f.get("resource_type") or "")[:128] or None,
                               name=str(f.get("title", ""))[:256], state=str(f.get("severity", "")).lower()[:64],
                               text=cut(str(f.get("message", "")), 2000),
                               attrs={"finding_id": f.get("id") or finding_id(check, rid), "check_id": check[:200],
                                      "resource_id": cut(rid, 200), "category": str(f.get("category") or ""),
                                      "monthly_saving": float(f.get("monthly_saving") or 0.0),
                                      "fix_operation": f.get("fix_operation") or None}))  # fmt: skip
    return out


def change_items(store: ResultStore, limit: int = 50) -> list[ContextItem]:
    """The latest stored morning report's changes since the previous scan (who, what, monthly impact)."""
    report = store.latest("report") or {}
    out: list[ContextItem] = []
    for c in (report.get("changes") or [])[:limit]:
        if not isinstance(c, dict) or not c.get("resource_id"):
            continue
        rid = cut(str(c["resource_id"]), 200)
        out.append(ContextItem(kind="report", id=f"change:{rid}"[:512], resource_type=str(c.get("resource_type") or "")[:128] or None,
                               name=cut(str(c.get("detail") or ""), 256), state=str(c.get("kind") or "")[:64],
                               text=str(report.get("report_date") or ""),
                               attrs={"resource_id": rid, "by": cut(str(c.get("by") or ""), 200),
                                      "monthly_cost_impact": float(c.get("monthly_cost_impact") or 0.0)}))  # fmt: skip
    return out
