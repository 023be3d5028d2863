"""What the HTML and PDF reports show, decided once: the headline, the charts, and the sections that have
something to say (a section with nothing in it is left out, never shown as a bare heading).

The HTML template and the PDF layout both read a :class:`Page`; neither decides what to say, only how it
looks, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from escher.report.model import Group, MorningReport
from escher.report.render import charts
from escher.report.render._text import (
    ACCOUNT_HEAD,
    ACCOUNTS_TITLE,
    TITLES,
    account_row,
    executive,
    headline,
    money,
    org_summary,
    subtitle,
)

__all__ = ["Chart", "Item", "Kpi", "Page", "Section", "page", "signed_money"]

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")


@dataclass(slots=True)
class Kpi:
    label: str
    value: str
    tone: str = "neutral"  # bad | good | neutral (a zero is always neutral)


@dataclass(slots=True)
class Item:
    """One alert or one group of findings, with its copyable fix."""

    severity: str
    title: str
    saving: str = ""
    details: list[str] = field(default_factory=list)
    fix: str = ""
    as_of: str = ""


@dataclass(slots=True)
class Section:
    name: str
    title: str
    ok: list[str] = field(default_factory=list)  # good news lines
    lines: list[str] = field(default_factory=list)
    kpis: list[Kpi] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    table_head: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    total: str = ""

    @property
    def empty(self) -> bool:
        return not (self.ok or self.lines or self.kpis or self.items or self.table)


@dataclass(slots=True)
class Chart:
    title: str
    svg: str
    caption: str = ""


@dataclass(slots=True)
class Page:
    title: str
    subtitle: str
    critical: int
    high: int
    at_stake: str
    changed: str
    notes: list[str]  # what was not read / where parts of the estate come from: shown first
    charts: list[Chart]
    sections: list[Section]
    questions: list[str]

    @property
    def headline(self) -> str:
        return f"{self.critical} critical, {self.high} high - {self.at_stake}/month at stake - {self.changed}"


def _tone(value: float, *, rising_is_bad: bool = True) -> str:
    if round(value, 2) == 0:
        return "neutral"
    return "bad" if (value > 0) == rising_is_bad else "good"


def signed_money(value: float) -> str:
    if round(value, 2) == 0:
        return "$0.00"  # no sign: nothing moved
    return f"{'+' if value > 0 else '-'}${abs(value):,.2f}"


def _changed(report: MorningReport) -> str:
    if report.scan_id.startswith("org:"):  # the extension's organization scan alone (escher.report.org)
        return "organization scan: no earlier scan compared"
    if not report.previous_scan_id:
        return "first scan: nothing to compare with yet"
    parts = []
    if report.new_findings:
        parts.append(f"{report.new_findings} new finding{'s' if report.new_findings != 1 else ''}")
    if report.resolved_findings:
        parts.append(f"{report.resolved_findings} resolved")
    if report.changes:
        parts.append(f"{len(report.changes)} resource change{'s' if len(report.changes) != 1 else ''}")
    return ("since the previous scan: " + ", ".join(parts)) if parts else "no change since the previous scan"


def _item(g: Group, short: bool) -> Item:
    details: list[str] = []
    if not short:
        envs = ", ".join(f"{k} ({v})" for k, v in sorted(g.environments.items()))
        details = [f"Environment: {envs}"] if envs else []
        details += g.resources
        if g.count > len(g.resources):
            details.append(f"... and {g.count - len(g.resources)} more")
        comp = "; ".join(f"{k} {', '.join(v)}" for k, v in g.compliance.items())
        if comp:
            details.append(f"Controls: {comp}")
        if g.remediation:
            details.append(f"How to fix: {g.remediation}")
    return Item(
        severity=g.severity,
        title=f"{g.count} x {g.title}",
        saving=f"saves {money(g.monthly_saving)}/month" if g.monthly_saving else "",
        details=details,
        fix=g.fix_command,
        as_of=g.as_of,
    )


def _section(report: MorningReport, name: str) -> Section | None:
    short = report.format != "detailed"
    sec = Section(name, TITLES[name])
    if name == "alerts":
        sec.items = [
            Item(a.severity, a.title, details=[a.detail] if a.detail else [], fix=a.fix_command)
            for a in report.alerts
        ]
        if not sec.items:
            sec.ok = ["No critical alerts."]
    elif name == "cost":
        c = report.cost
        if c is None:
            sec.lines = ["No cost snapshot for this day: run `escher cost sync` (or wait for the daily job)."]
            return sec
        sec.kpis = [
            Kpi("yesterday", money(c["yesterday"])),
            Kpi("vs previous day", signed_money(c["day_delta"]), _tone(c["day_delta"])),
            Kpi("month to date", money(c["month_to_date"])),
            Kpi(
                "forecast this month",
                money(c["forecast_month"]),
                "bad" if c.get("over_budget") else "neutral",
            ),
        ]
        if c.get("budget") is not None:
            sec.kpis.append(Kpi("budget", money(c["budget"])))
        if c.get("above_threshold"):
            sec.lines.append("Yesterday's change is above your threshold.")
        month = signed_money(c["month_delta"])
        pct = c.get("month_delta_pct")
        sec.lines.append(f"{month}{f' ({pct:+.1f}%)' if pct else ''} vs the same days last month")
        if not executive(report):
            sec.table_head = ["Top cost drivers (yesterday)", "amount", "vs previous day"]
            sec.table = [
                [svc, money(amount), signed_money(delta)] for svc, amount, delta in c["by_service"][:5]
            ]
    elif name == "changes":
        if executive(report) or not report.changes:
            return None  # the headline already says "no change"
        sec.table_head = ["change", "type", "resource", "what", "by", "$/month"]
        sec.table = [
            [
                c.kind,
                c.resource_type,
                c.resource_id,
                c.detail,
                c.by,
                signed_money(c.monthly_cost_impact) if c.monthly_cost_impact else "",
            ]
            for c in report.changes
        ]
    elif name == "security":
        if not executive(report):
            sec.ok = list(report.good_news)
        sec.items = [_item(g, short) for g in report.security]
    elif name == "optimization":
        sec.items = [_item(g, short) for g in report.optimization]
        if sec.items:
            sec.total = f"Potential savings: {money(report.savings_total)}/month"
    elif name == "operational":
        sec.ok = list(report.health_ok)
        sec.items = [_item(g, short) for g in report.operational]
    elif name == "questions":
        return None  # the questions are the page's own aside, not a section
    return None if sec.empty else sec


def _accounts(report: MorningReport) -> Section:
    """The organization: accounts read and not reached, then findings per account."""
    sec = Section("accounts", f"{ACCOUNTS_TITLE}: {org_summary(report)}")
    sec.kpis = [Kpi("accounts read", str(len(report.accounts)))]
    if report.unreachable_accounts:
        sec.kpis.append(Kpi("not reached", str(len(report.unreachable_accounts)), "bad"))
    sec.lines = [f"Not reached: {u}" for u in report.unreachable_accounts]
    sec.table_head = list(ACCOUNT_HEAD)
    sec.table = [account_row(r) for r in report.accounts]
    return sec


def page(report: MorningReport) -> Page:
    notes = list(report.scope_notes)
    if report.partial:
        notes.append("Not read (not counted as zero): " + "; ".join(report.partial))
    found: list[Chart] = []
    if len(report.cost_trend) >= 2:
        first, last = report.cost_trend[0], report.cost_trend[-1]
        found.append(
            Chart(
                f"Daily spend, last {len(report.cost_trend)} days",
                charts.trend(report.cost_trend),
                f"{first[0]}: {money(first[1])} - {last[0]}: {money(last[1])}",
            )
        )
    if any(report.totals.values()):
        mix = [(s, report.totals.get(s, 0)) for s in SEVERITIES]
        found.append(Chart("Failing findings by severity", charts.severity_mix(mix)))
    sections = [s for name in report.sections if (s := _section(report, name)) is not None]
    if report.accounts or report.unreachable_accounts:
        sections.insert(0, _accounts(report))
    return Page(
        title=headline(report),
        subtitle=subtitle(report),
        critical=report.totals.get("CRITICAL", 0),
        high=report.totals.get("HIGH", 0),
        at_stake=money(report.at_stake),
        changed=_changed(report),
        notes=notes,
        charts=found,
        sections=sections,
        questions=[] if executive(report) or "questions" not in report.sections else list(report.questions),
    )
