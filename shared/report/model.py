"""The morning report as data: every renderer (terminal, Markdown, HTML, PDF, CSV, XLSX, JSON) reads this."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Alert", "Change", "Group", "MorningReport"]


@dataclass(slots=True)
class Alert:
    severity: str
    title: str
    detail: str = ""
    fix_command: str = ""


@dataclass(slots=True)
class Group:
    """All failures of one check: "2 unencrypted EBS volumes", with the resources and the 1-click fix."""

    check_id: str
    title: str
    severity: str
    category: str
    count: int
    resources: list[str]  # "id (detail)" for the first few
    environments: dict[str, int]
    monthly_saving: float
    remediation: str
    compliance: dict[str, list[str]]
    finding_ids: list[str]
    fix_operation: str | None = None
    fix_command: str = ""  # `escher fix F-...`; for a group: `escher fix --check CHECK_ID`
    as_of: str = ""  # set when some of these findings come from an earlier scan: "2026-12-05 (2 days old)"


@dataclass(slots=True)
class Change:
    kind: str  # added | removed | modified
    resource_type: str
    resource_id: str
    detail: str
    by: str = ""
    monthly_cost_impact: float = 0.0


@dataclass(slots=True)
class MorningReport:
    report_date: str
    generated_at: str
    data_as_of: str
    scan_id: str
    focus: str
    format: str
    sections: list[str]
    resources: int
    partial: list[str] = field(default_factory=list)  # parts of the estate that could not be read
    # what the latest scan did not look at and where those parts come from (said at the top)
    scope_notes: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    cost: dict[str, Any] | None = None
    savings_total: float = 0.0
    changes: list[Change] = field(default_factory=list)
    good_news: list[str] = field(default_factory=list)
    security: list[Group] = field(default_factory=list)
    optimization: list[Group] = field(default_factory=list)
    operational: list[Group] = field(default_factory=list)
    health_ok: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # failures per severity
    findings: list[dict[str, Any]] = field(default_factory=list)  # every failed finding (CSV/XLSX/OCSF)
    previous_scan_id: str = ""  # what "changed" compares with ("" on the first scan)
    new_findings: int = 0  # failing now, not in the previous scan
    resolved_findings: int = 0  # failing in the previous scan, not now
    cost_trend: list[tuple[str, float]] = field(default_factory=list)  # (day, total), the last 30 days
    # organizations: one row per account read ({cloud, account, resources, findings, CRITICAL, HIGH, ...}),
    # filled when the scan read more than one account or could not enter one; and the accounts not entered
    accounts: list[dict[str, Any]] = field(default_factory=list)
    unreachable_accounts: list[str] = field(default_factory=list)  # "111122223333: why"
    # the extension's joined organization scan the accounts come from (escher.report.org): its cloud, run,
    # when it was joined, where it was read, the accounts not scanned and each account's section; else None
    organization: dict[str, Any] | None = None

    @property
    def at_stake(self) -> float:
        """$ a month the report can name: the savings identified (waste it found)."""
        return self.savings_total

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MorningReport:
        data = dict(data)
        data["alerts"] = [Alert(**a) for a in data.get("alerts", [])]
        data["changes"] = [Change(**c) for c in data.get("changes", [])]
        for key in ("security", "optimization", "operational"):
            data[key] = [Group(**g) for g in data.get(key, [])]
        data["cost_trend"] = [(str(d), float(v)) for d, v in data.get("cost_trend", [])]
        return cls(**data)
