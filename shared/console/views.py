"""What each page shows, read through the core (the report service, the alert store, approvals, the latest scan,
the ledger): plain data for the templates, no HTML here and no decisions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.alerts.model import Alert
    from escher.policy.approvals import ApprovalRequest
    from escher.policy.runtime import Runtime
    from escher.report.model import Group, MorningReport
    from escher.scans.model import Finding, Record
    from escher.scans.persist import ResultStore
    from escher.store.store import Store

__all__ = [
    "AlertView",
    "EstateFilter",
    "ReportCache",
    "alert_views",
    "approvals_view",
    "audit_view",
    "estate_view",
    "prebuild_report",
    "report_view",
    "settings_view",
]

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")
BANNER_SEVERITIES = ("CRITICAL", "HIGH")


# -- alerts -------------------------------------------------------------------------------------------------
@dataclass
class AlertView:
    alert: Alert
    header: str
    lines: list[str]
    can_approve: bool
    can_stop: bool

    @property
    def banner(self) -> bool:
        return self.alert.severity in BANNER_SEVERITIES


def alert_store(rt: Runtime) -> Any:
    from escher.alerts.store import AlertStore
    from escher.pipeline.runtime import state_objects

    return AlertStore(state_objects(extensions=rt.settings.extensions))


def alert_view(rt: Runtime, alert: Alert, now: datetime | None = None) -> AlertView:
    from escher.alerts.views import banner
    from escher.console.actions import STOP_OPERATION, _is_machine

    b = banner(alert, now or datetime.now(UTC))
    can_approve = bool(alert.approval_request_id) and rt.actor.is_manager and alert.status == "needs_approval"
    can_stop = alert.cloud in STOP_OPERATION and _is_machine(alert)
    return AlertView(alert, b.header, [line for line in b.lines if line], can_approve, can_stop)


def alert_views(rt: Runtime) -> list[AlertView]:
    """The open alerts, most severe first, without those put off until tomorrow (``escher alerts``)."""
    from escher.console.actions import snoozed

    now = datetime.now(UTC)
    try:
        alerts = alert_store(rt).list()
    except EscherError:  # a state storage that cannot be read: no banners, never a broken page
        return []
    off = snoozed(rt, now)
    return [alert_view(rt, a, now) for a in alerts if a.alert_id not in off]


# -- the morning report -------------------------------------------------------------------------------------
@dataclass
class ReportView:
    report: MorningReport | None
    error: EscherError | None = None
    page: Any = None  # escher.report.render.content.Page: what the HTML report shows, decided once
    # each section with its items; an item of a findings section carries its group (the Fix button's ids)
    sections: list[tuple[Any, list[tuple[Any, Group | None]]]] = field(default_factory=list)
    cost_chart: dict[str, Any] = field(default_factory=dict)
    severity_chart: dict[str, Any] = field(default_factory=dict)


class ReportCache:
    """The last report page built (or the last scans read), kept while what it was built from is unchanged: the stored scans, report
    template records and alerts (one cheap query: their count, newest time and a hash of their content hashes),
    the cost snapshots and the ``[report]`` settings; and never longer than ``ttl`` (the pipeline's last-24-h
    lines come from the state storage, outside that fingerprint). Building the report reads every stored scan
    back (seconds at 10,000 resources); a reload of an unchanged estate should not.

    :meth:`get_or_build` builds at most once per fingerprint at a time: a request arriving while the console's
    background build (:func:`prebuild_report`) or another request builds that page waits for it. ``builds``
    counts the builds done here, ``build_seconds`` how long the last one took; ``read_at`` is when a page last
    asked (``time.monotonic()``)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entry: tuple[tuple[Any, ...], float, Any] | None = None
        self._pending: dict[tuple[Any, ...], threading.Event] = {}
        self.builds = 0
        self.build_seconds = 0.0
        self.read_at: float | None = None

    def get(self, fingerprint: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._kept(fingerprint)

    def put(self, fingerprint: tuple[Any, ...], view: Any) -> None:
        with self._lock:
            self._entry = (fingerprint, time.monotonic(), view)

    def _kept(self, fingerprint: tuple[Any, ...], within: float = 0.0) -> Any:
        """The kept view for this fingerprint if it stays fresh for ``within`` seconds more (lock held)."""
        if self._entry is None:
            return None
        key, at, view = self._entry
        return view if key == fingerprint and time.monotonic() - at < self.ttl - within else None

    def needs(self, fingerprint: tuple[Any, ...], within: float = 0.0) -> bool:
        """Nothing kept for this fingerprint that stays fresh ``within`` seconds more, and no build under way."""
        with self._lock:
            return self._kept(fingerprint, within) is None and fingerprint not in self._pending

    def is_new(self, fingerprint: tuple[Any, ...]) -> bool:
        """What is kept (fresh or not) was built from something else: the data changed since."""
        with self._lock:
            return self._entry is None or self._entry[0] != fingerprint

    def get_or_build(
        self,
        fingerprint: tuple[Any, ...],
        build: Callable[[], Any],
        *,
        keep: Callable[[Any], bool] = lambda _: True,
        reader: bool = True,
    ) -> Any:
        """The kept view for ``fingerprint``, else the one a build under way makes (waited for), else
        ``build()`` now, kept when ``keep`` says so (an error page is not kept). ``reader``: a page asks
        (False: the background build)."""
        waited = False
        while True:
            with self._lock:
                if reader:
                    self.read_at = time.monotonic()
                kept = self._kept(fingerprint)
                if kept is not None:
                    return kept
                pending = self._pending.get(fingerprint)
                if pending is None or waited:
                    mine = threading.Event()
                    self._pending.setdefault(fingerprint, mine)
                    break
            pending.wait()
            waited = True  # that build was not kept (an error): build here rather than wait again
        try:
            started = time.monotonic()
            view = build()
            with self._lock:
                self.builds += 1
                self.build_seconds = time.monotonic() - started
                if keep(view):
                    self._entry = (fingerprint, time.monotonic(), view)
            return view
        finally:
            with self._lock:
                if self._pending.get(fingerprint) is mine:
                    del self._pending[fingerprint]
            mine.set()


def _fingerprint(store: Store, extensions: dict[str, Any]) -> tuple[Any, ...]:
    """What the latest report depends on, from the store's tables without reading a scan's body."""
    conn = store.connection
    records = conn.execute(
        "SELECT count(*), max(at), md5(string_agg(content_hash, ',' ORDER BY key)) FROM records "
        "WHERE collection = 'alerts' AND kind IN ('scan_result', 'report_template', 'alert')"
    ).fetchone()
    cost = conn.execute("SELECT count(*), max(seq) FROM reports WHERE chain = 'cost'").fetchone()
    settings = json.dumps(extensions.get("report"), sort_keys=True, default=str)
    return (tuple(records or ()), tuple(cost or ()), settings, datetime.now(UTC).date().isoformat())


def report_view(
    store: Store | None = None, cache: ReportCache | None = None, extensions: dict[str, Any] | None = None
) -> ReportView:
    """``escher report``: the latest scan's report, laid out as the HTML report lays it out
    (:func:`escher.report.render.content.page`), with the chart data. ``store``: the console's open knowledge
    store (None: the installation keeps results in files, read as ``escher report`` reads them)."""
    if store is None or cache is None:
        return _build_report_view(store)
    view: ReportView = cache.get_or_build(
        _fingerprint(store, extensions or {}),
        lambda: _build_report_view(store),
        keep=lambda view: view.error is None,
    )
    return view


def prebuild_report(
    store: Store, cache: ReportCache, extensions: dict[str, Any], *, within: float = 5.0, idle: float = 600.0
) -> bool:
    """Build the report page before anyone asks (the console's background thread calls this every second or
    so): when what it is built from changed (a new scan, template, alert or cost snapshot), or when the kept
    page expires within ``within`` seconds and a page asked for it in the last ``idle`` seconds. A request
    arriving meanwhile waits for this build (:meth:`ReportCache.get_or_build`). True: built."""
    fingerprint = _fingerprint(store, extensions)
    if not cache.needs(fingerprint, within):
        return False
    if not cache.is_new(fingerprint) and (cache.read_at is None or time.monotonic() - cache.read_at > idle):
        return False  # only the time ran out, and nobody looked lately: the next request builds
    before = cache.builds
    cache.get_or_build(
        fingerprint, lambda: _build_report_view(store), keep=lambda view: view.error is None, reader=False
    )
    return cache.builds > before


def _build_report_view(store: Store | None) -> ReportView:
    from escher.report.render.content import page
    from escher.report.service import get_or_build_report

    try:
        rep = get_or_build_report(store=_results(store))
    except EscherError as exc:
        return ReportView(None, exc)
    laid_out = page(rep)
    groups: dict[str, list[Group]] = {
        "security": rep.security, "optimization": rep.optimization, "operational": rep.operational,
    }  # fmt: skip
    sections = []
    for sec in laid_out.sections:
        mine = groups.get(sec.name, [])
        items = [(item, mine[i] if i < len(mine) else None) for i, item in enumerate(sec.items)]
        sections.append((sec, items))
    cost = {"labels": [d for d, _ in rep.cost_trend], "values": [round(v, 2) for _, v in rep.cost_trend]}
    sev = {"labels": list(SEVERITIES), "values": [int(rep.totals.get(s, 0)) for s in SEVERITIES]}
    return ReportView(rep, None, laid_out, sections, cost, sev)


def _results(store: Store | None) -> ResultStore | None:
    """The scans and reports over the console's open store (None: let the core open its own, as the CLI)."""
    if store is None:
        return None
    from escher.scans.persist_store import StoreResults

    return StoreResults(store)


@contextmanager
def _ledger(store: Store | None) -> Iterator[Store]:
    """The console's open store, or one opened for this read (closed after it)."""
    if store is not None:
        yield store
        return
    from escher.audit.ledger import migrate_jsonl
    from escher.store.store import Store

    with Store.open() as opened:
        migrate_jsonl(opened)
        yield opened


def fix_ids(group: Group) -> str:
    return ",".join(group.finding_ids)


# -- approvals ----------------------------------------------------------------------------------------------
@dataclass
class ApprovalView:
    request: ApprovalRequest
    status: str
    own: bool
    may_self_grant: bool


def approvals_view(rt: Runtime) -> list[ApprovalView]:
    """``escher approvals list``: pending first, then the newest decided ones."""
    from escher.console.actions import self_grant_allowed

    now = datetime.now(UTC)
    items = rt.approvals.list()
    views = [
        ApprovalView(
            r, r.status_at(now), r.requested_by == rt.actor.name, self_grant_allowed(rt, r.requested_by)
        )
        for r in items
    ]
    order = {"pending": 0, "approved": 1}
    return sorted(views, key=lambda v: (order.get(v.status, 2), -v.request.requested_at.timestamp()))[:200]


# -- estate -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EstateFilter:
    q: str = ""
    cloud: str = ""
    account: str = ""
    region: str = ""
    environment: str = ""
    type: str = ""
    tag: str = ""  # KEY or KEY=VALUE

    def matches(self, rec: Record) -> bool:
        if self.cloud and rec.cloud != self.cloud:
            return False
        if self.account and rec.account != self.account:
            return False
        if self.region and rec.region != self.region:
            return False
        if self.environment and rec.environment.lower() != self.environment.lower():
            return False
        if self.type and not rec.type.startswith(self.type):
            return False
        if self.tag:
            key, sep, value = self.tag.partition("=")
            if key not in rec.tags or (sep and rec.tags[key] != value):
                return False
        if self.q:
            text = " ".join([rec.id, rec.name, rec.type, *(f"{k}={v}" for k, v in rec.tags.items())]).lower()
            return all(word in text for word in self.q.lower().split())
        return True


@dataclass
class EstateView:
    scan_id: str = ""
    records: list[Record] = field(default_factory=list)
    total: int = 0
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)
    selected: Record | None = None
    audit: list[Any] = field(default_factory=list)
    changes: list[Any] = field(default_factory=list)
    error: EscherError | None = None


_SHOWN = 200


def estate_view(
    flt: EstateFilter,
    resource: str = "",
    store: Store | None = None,
    cache: ReportCache | None = None,
) -> EstateView:
    """The latest scan's inventory, filtered, with each resource's failing findings; for one chosen resource
    also what changed since the previous scan and its audit records (``escher audit list --target``)."""
    from escher.report.builder import diff_inventories
    from escher.scans.findings import latest_scan
    from escher.scans.model import ScanResult
    from escher.scans.persist import close_store, open_store

    fingerprint = _fingerprint(store, {}) if store is not None and cache is not None else None
    kept = cache.get(fingerprint) if cache is not None and fingerprint is not None else None
    if isinstance(kept, tuple):
        scan, previous = kept
    else:
        results = _results(store) or open_store()
        try:
            keys = results.keys("scan")  # listed once: latest_scan would list them again
            scan = ScanResult.from_dict(results.get("scan", keys[-1]) or {}) if keys else latest_scan(results)
            previous = ScanResult.from_dict(results.get("scan", keys[-2]) or {}) if len(keys) > 1 else None
        except EscherError as exc:
            return EstateView(error=exc)
        finally:
            if store is None:
                close_store(results)
        if cache is not None and fingerprint is not None:
            cache.put(fingerprint, (scan, previous))
    records = scan.inventory.records
    view = EstateView(scan.scan_id, total=len(records))
    by_resource: dict[str, list[Finding]] = {}
    for f in scan.failed:
        by_resource.setdefault(f.resource_id, []).append(f)
    matched = [r for r in records if flt.matches(r)]
    view.records = matched[:_SHOWN]
    view.findings = {r.id: by_resource.get(r.id, []) for r in view.records}
    view.options = {
        "cloud": sorted({r.cloud for r in records}),
        "account": sorted({r.account for r in records}),
        "region": sorted({r.region for r in records}),
        "environment": sorted({r.environment for r in records if r.environment}),
        "type": sorted({r.type for r in records}),
    }
    view.total = len(matched)
    if resource:
        view.selected = next((r for r in records if r.id == resource), None)
        if view.selected is not None:
            view.findings.setdefault(resource, by_resource.get(resource, []))
            if previous is not None:
                view.changes = [c for c in diff_inventories(previous.inventory, scan.inventory, limit=10_000)
                                if c.resource_id == resource]  # fmt: skip
            view.audit = audit_rows(store, target=resource, limit=20)
    return view


# -- audit --------------------------------------------------------------------------------------------------
def audit_rows(store: Store | None = None, **query: Any) -> list[Any]:
    """``escher audit list`` with these filters, newest first."""
    from escher.store.audit_query import AuditQuery, parse_when, query_audit

    for key in ("since", "until"):
        query[key] = parse_when(query[key]) if query.get(key) else None
    q = AuditQuery(**{k: (v or None) for k, v in query.items()})
    with _ledger(store) as ledger:
        return list(query_audit(ledger.connection, q))


@dataclass
class AuditView:
    rows: list[Any]
    verify: dict[str, Any] | None = None
    error: EscherError | None = None
    incidents: list[Alert] = field(default_factory=list)  # every stored alert: each one's timeline is a link


def audit_view(rt: Runtime, query: dict[str, Any], *, verify: bool, store: Store | None = None) -> AuditView:
    """The ledger with filters; ``verify``: ``escher audit verify`` (chains, signatures, anchors); the incidents
    (``escher alerts --all``), newest first, for their timelines."""
    try:
        incidents = sorted(
            alert_store(rt).list(include_acknowledged=True), key=lambda a: a.created_at, reverse=True
        )
    except EscherError:
        incidents = []
    try:
        rows = audit_rows(store, **query)
        report = None
        if verify:
            with _ledger(store) as ledger:
                anchors = [str(ledger.ledger.anchors.path)] if ledger.ledger.anchors is not None else []
                anchors += [ledger.ledger.remote.url] if ledger.ledger.remote is not None else []
                report = {**ledger.verify().to_dict(), "anchors": anchors}
        return AuditView(rows, report, incidents=incidents[:50])
    except EscherError as exc:
        return AuditView([], None, exc, incidents[:50])


# -- settings -----------------------------------------------------------------------------------------------
@dataclass
class SettingsView:
    switches: list[dict[str, Any]]
    report: dict[str, Any]
    sections: tuple[str, ...]
    focuses: list[str]
    formats: list[str]
    channels: list[str]
    routes: dict[str, list[str]]
    error: EscherError | None = None


def settings_view(rt: Runtime) -> SettingsView:
    """``escher remediation list``, the ``[report]`` template and ``[notify]`` routes as they are now."""
    from escher.notify import load_notify
    from escher.policy.remediation import SWITCHES, THRESHOLDS, load_remediation
    from escher.report.template import SECTIONS, Focus, ReportFormat, load_template

    current = load_remediation(rt.settings.extensions)
    switches = []
    for switch in SWITCHES:
        threshold = THRESHOLDS.get(switch.setting)
        switches.append({
            "name": switch.setting,
            "label": switch.label,
            "enabled": bool(getattr(current, switch.setting)),
            "threshold": (threshold, getattr(current, threshold)) if threshold else None,
            "operations": list(switch.operations),
        })  # fmt: skip
    notify = load_notify(rt.settings.extensions)
    routes = {sev: notify.channels_for(sev) for sev in ("CRITICAL", "HIGH", "MEDIUM", "INFO")}
    return SettingsView(
        switches,
        load_template(rt.settings.extensions).model_dump(mode="json"),
        SECTIONS,
        [f.value for f in Focus],
        [f.value for f in ReportFormat],
        sorted(notify.channels),
        routes,
    )
