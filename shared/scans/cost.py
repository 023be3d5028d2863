"""Daily cost snapshots and what the report says about them.

One sync per day (the 02:00 job) reads the billing API and stores an immutable snapshot; every question after
that ("spend by region?", "vs last month?") is answered from snapshots, never by calling the API again. A
snapshot holds daily rows from the first day of the previous month to the snapshot day, so day-over-day,
month-over-month, budget burn and anomalies all come from one stored record.
"""

from __future__ import annotations

import calendar
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from escher.config import Settings
    from escher.scans.persist import ResultStore

__all__ = [
    "CostRow",
    "CostSnapshot",
    "CostSource",
    "CostSummary",
    "CostSync",
    "billing_clouds",
    "stored_snapshots",
    "summarize",
    "sync",
    "sync_if_due",
]


@dataclass(frozen=True, slots=True)
class CostRow:
    day: str  # YYYY-MM-DD
    amount: float
    service: str = ""
    region: str = ""
    account: str = ""
    tag: str = ""  # value of the cost-allocation tag (env by default)


@dataclass(slots=True)
class CostSnapshot:
    cloud: str
    day: str  # the last complete day the snapshot covers
    currency: str
    rows: list[CostRow] = field(default_factory=list)  # by service and region
    account_rows: list[CostRow] = field(default_factory=list)  # by account and tag
    coverage: dict[str, float | None] = field(default_factory=dict)  # reserved / savings plan, when given

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CostSnapshot:
        return cls(
            cloud=data["cloud"],
            day=data["day"],
            currency=data["currency"],
            rows=[CostRow(**r) for r in data.get("rows", [])],
            account_rows=[CostRow(**r) for r in data.get("account_rows", [])],
            coverage=dict(data.get("coverage", {})),
        )


class CostSource(Protocol):
    """A cloud's billing; each provider names its class (``cost_source``), built with ``from_settings``."""

    cloud: str

    def snapshot(self, day: date) -> CostSnapshot: ...


def window(day: date) -> tuple[date, date]:
    """[first day of the previous month, day + 1): enough for MTD, last month to date and a 14-day baseline."""
    first = day.replace(day=1)
    prev = (first - timedelta(days=1)).replace(day=1)
    start = min(prev, day - timedelta(days=15))
    return start, day + timedelta(days=1)


@dataclass(slots=True)
class CostSummary:
    day: str
    currency: str
    yesterday: float
    previous_day: float
    month_to_date: float
    last_month_to_date: float
    forecast_month: float
    budget: float | None
    by_service: list[tuple[str, float, float]]  # (service, yesterday, delta vs previous day), largest first
    by_region: list[tuple[str, float]]
    by_account: list[tuple[str, float]]
    by_tag: list[tuple[str, float]]
    anomalies: list[dict[str, Any]]
    coverage: dict[str, float | None]

    @property
    def day_delta(self) -> float:
        return round(self.yesterday - self.previous_day, 2)

    @property
    def day_delta_pct(self) -> float | None:
        return round(100 * self.day_delta / self.previous_day, 1) if self.previous_day else None

    @property
    def month_delta(self) -> float:
        return round(self.month_to_date - self.last_month_to_date, 2)

    @property
    def month_delta_pct(self) -> float | None:
        if not self.last_month_to_date:
            return None
        return round(100 * self.month_delta / self.last_month_to_date, 1)

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.forecast_month > self.budget

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            day_delta=self.day_delta,
            day_delta_pct=self.day_delta_pct,
            month_delta=self.month_delta,
            month_delta_pct=self.month_delta_pct,
            over_budget=self.over_budget,
        )
        return data


def _sum_by(rows: list[CostRow], day: str, attr: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for r in rows:
        if r.day == day:
            out[getattr(r, attr) or "(none)"] += r.amount
    return out


def _top(d: dict[str, float], n: int = 10) -> list[tuple[str, float]]:
    return [(k, round(v, 2)) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:n]]


def summarize(
    snaps: list[CostSnapshot],
    *,
    budget: float | None = None,
    anomaly_sigma: float = 3.0,
    anomaly_min: float = 10.0,
) -> CostSummary:
    """Merge the clouds' snapshots of one day into the figures the report shows."""
    rows = [r for s in snaps for r in s.rows]
    account_rows = [r for s in snaps for r in s.account_rows]
    day_s = max((s.day for s in snaps), default=date.today().isoformat())
    day = date.fromisoformat(day_s)
    prev_s = (day - timedelta(days=1)).isoformat()
    per_day: dict[str, float] = defaultdict(float)
    for r in rows:
        per_day[r.day] += r.amount
    first = day.replace(day=1)
    last_month_end = first - timedelta(days=1)
    lm_day = min(day.day, last_month_end.day)
    lm_start, lm_until = last_month_end.replace(day=1), last_month_end.replace(day=lm_day)
    mtd = sum(v for d, v in per_day.items() if first.isoformat() <= d <= day_s)
    lmtd = sum(v for d, v in per_day.items() if lm_start.isoformat() <= d <= lm_until.isoformat())
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    svc_today, svc_prev = _sum_by(rows, day_s, "service"), _sum_by(rows, prev_s, "service")
    by_service = [
        (k, round(v, 2), round(v - svc_prev.get(k, 0.0), 2))
        for k, v in sorted(svc_today.items(), key=lambda kv: -kv[1])
    ]
    anomalies = []
    baseline_days = [(day - timedelta(days=i)).isoformat() for i in range(1, 15)]
    for service, amount in svc_today.items():
        history = [sum(r.amount for r in rows if r.day == d and r.service == service) for d in baseline_days]
        mean = statistics.fmean(history)
        spread = statistics.pstdev(history)
        if amount - mean > max(anomaly_sigma * spread, anomaly_min):
            anomalies.append(
                {
                    "service": service,
                    "amount": round(amount, 2),
                    "baseline": round(mean, 2),
                    "excess": round(amount - mean, 2),
                }
            )
    coverage: dict[str, float | None] = {}
    for s in snaps:
        coverage.update({f"{s.cloud}.{k}": v for k, v in s.coverage.items()})
    return CostSummary(
        day=day_s,
        currency=snaps[0].currency if snaps else "USD",
        yesterday=round(per_day.get(day_s, 0.0), 2),
        previous_day=round(per_day.get(prev_s, 0.0), 2),
        month_to_date=round(mtd, 2),
        last_month_to_date=round(lmtd, 2),
        forecast_month=round(mtd / day.day * days_in_month, 2),
        budget=budget,
        by_service=by_service,
        by_region=_top(_sum_by(rows, day_s, "region")),
        by_account=_top(_sum_by(account_rows, day_s, "account")),
        by_tag=_top(_sum_by(account_rows, day_s, "tag")),
        anomalies=sorted(anomalies, key=lambda a: -float(a["excess"])),
        coverage=coverage,
    )


# -- the daily pull, as one entry point (``escher cost sync``, the daily job, ``escher scan`` on day one) --------


@dataclass(slots=True)
class CostSync:
    """What one pull did: the snapshots of ``day`` (read back or fetched), and the clouds whose billing could
    not be read, each with what to do."""

    day: str
    snapshots: list[CostSnapshot] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    fetched: bool = False  # False: every snapshot was already stored, no billing call was made

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "fetched": self.fetched,
            "snapshots": [
                {"cloud": s.cloud, "day": s.day, "currency": s.currency, "total": _total(s)}
                for s in self.snapshots
            ],
            "missing": list(self.missing),
        }


def _total(snap: CostSnapshot) -> float:
    return round(sum(r.amount for r in snap.rows if r.day == snap.day), 2)


def _yesterday() -> date:
    from datetime import UTC, datetime

    return datetime.now(UTC).date() - timedelta(days=1)


def sync(
    clouds: list[str],
    store: ResultStore,
    day: date | None = None,
    *,
    sources: Iterable[CostSource] | None = None,
) -> CostSync:
    """Pull ``day``'s snapshot (yesterday, UTC: the last complete day) for each cloud into ``store``; a day
    already stored is read back without a call. One cloud's billing being unreadable never costs the others
    theirs: it is listed in ``missing`` with the hint."""
    from escher.scans.runner import sync_costs

    day = day or _yesterday()
    from escher.clouds.errors import translate

    before = set(store.keys("cost"))
    missing: list[str] = []
    given = list(sources or ())
    snaps: list[CostSnapshot] = []
    for cloud in clouds:  # one at a time: an SDK error on one cloud's billing must not cost the others theirs
        mine = [s for s in given if s.cloud == cloud]
        try:
            snaps += sync_costs([cloud], day, store=store, sources=mine or None, failures=missing)
        except (
            Exception
        ) as exc:  # the SDK's own error type (AccessDenied on ce:GetCostAndUsage, throttling...)
            error = translate(exc)
            if error is None:
                raise  # not a cloud failure: a bug, shown as one
            missing.append(f"{cloud}: {error}")
    fetched = any(f"{c}-{day.isoformat()}" not in before for c in {s.cloud for s in snaps})
    return CostSync(day.isoformat(), snaps, missing, fetched)


def sync_if_due(
    clouds: list[str],
    store: ResultStore,
    day: date | None = None,
    *,
    sources: Iterable[CostSource] | None = None,
) -> CostSync | None:
    """The pull, only when a snapshot is due: some cloud in ``clouds`` has none stored for ``day`` (yesterday).
    ``escher scan`` calls it so the first report has a cost section without waiting for the 02:00 job;
    None when every snapshot is already there (no call, no credentials needed)."""
    day = day or _yesterday()
    have = set(store.keys("cost"))
    if all(f"{c}-{day.isoformat()}" in have for c in clouds):
        return None
    return sync(clouds, store, day, sources=sources)


def stored_snapshots(store: ResultStore, day: str | None = None) -> list[CostSnapshot]:
    """The snapshots the report, ``ask`` and ``chat`` all read: ``day``'s for each cloud, or the newest day
    stored per cloud when ``day`` is None."""
    newest: dict[str, str] = {}
    for key in store.keys("cost"):
        cloud, _, stamp = key.partition("-")
        if day is not None and stamp != day:
            continue
        if stamp > newest.get(cloud, ""):
            newest[cloud] = stamp
    out = []
    for cloud, stamp in sorted(newest.items()):
        data = store.get("cost", f"{cloud}-{stamp}")
        if data:
            out.append(CostSnapshot.from_dict(data))
    return out


def billing_clouds(settings: Settings) -> list[str]:
    """The enabled clouds whose billing Escher can read as configured: each provider with a cost source says
    which setting of its section billing needs (``billing_setting``: AWS none, Cost Explorer answers for the
    caller; Azure ``subscription_id``; GCP ``billing_export_table``)."""
    from escher.clouds import PROVIDERS

    out: list[str] = []
    for cloud in PROVIDERS.values():
        if "cost_source" not in cloud.refs or not cloud.enabled(settings):
            continue
        if not cloud.billing_setting or getattr(cloud.section(settings), cloud.billing_setting):
            out.append(cloud.name)
    return out
