"""The CPU rightsizing tests every cloud's VM checks share; each cloud passes its own state, size and price table."""

from __future__ import annotations

from collections.abc import Callable

from escher.scans.checks.base import NA, CheckContext, Fail, Outcome
from escher.scans.model import Record
from escher.scans.pricing import monthly, saving


def idle(rec: Record, ctx: CheckContext, *, running: bool, hourly: dict[str, float], size: str) -> Outcome:
    """Fail when the busiest day of the last week stayed under the idle CPU threshold; saving is the whole VM."""
    peak, days = rec.attrs.get("cpu_max_daily_7d"), int(rec.attrs.get("cpu_days") or 0)
    if not running or peak is None or days < ctx.thresholds.idle_days:
        return NA
    if float(peak) >= ctx.thresholds.idle_cpu_percent:
        return None
    return Fail(f"CPU peak daily average {float(peak):.1f}%", monthly(hourly.get(size, 0)))


def overprovisioned(
    rec: Record,
    ctx: CheckContext,
    *,
    running: bool,
    hourly: dict[str, float],
    size: str,
    smaller_of: Callable[[str], str | None],
    fix_param: str,
) -> Outcome:
    """Fail when the 30-day average CPU is low enough for the next size down; idle VMs are left to the idle check
    (stopping beats resizing)."""
    avg, days = rec.attrs.get("cpu_avg_30d"), int(rec.attrs.get("cpu_days_30d") or 0)
    if not running or avg is None or days < ctx.thresholds.overprovisioned_days:
        return NA
    peak = rec.attrs.get("cpu_max_daily_7d")
    if peak is not None and float(peak) < ctx.thresholds.idle_cpu_percent:
        return NA
    if float(avg) >= ctx.thresholds.overprovisioned_cpu_percent:
        return None
    smaller = smaller_of(size)
    if smaller is None:
        return NA
    return Fail(
        f"{size} -> {smaller} (30-day average CPU {float(avg):.1f}%)",
        saving(hourly, size, smaller),
        fix_params={fix_param: smaller},
    )
