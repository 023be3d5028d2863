"""The extension's organization scans in the morning report (issue #19 item 4).

When the extension fans an organization's daily scan out per account, the parts are joined in its state
storage as ``reports/org/<run>.json`` (:func:`escher.pipeline.fanout.join`). ``escher sync`` brings each joined
report home, with where it came from, as ``pulled/org/<cloud>/<run>.json`` in the laptop's state directory
(:mod:`escher.extend.pull`). ``escher report`` then shows the organization summary and the per-account
breakdown of the newest one when it is newer than the local scan (``--run`` picks one whatever its age); with
no local scan at all, the report is the organization scan's own: its failing findings grouped by check.

The joined report's format is the AWS one written by ``fanout.join``; its cloud is data (the report's own
``cloud`` when it names one, else the extension it was pulled from), so Azure's and GCP's joins read the same.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.pipeline.objects import PipelineObjects
    from escher.report.model import MorningReport
    from escher.report.template import ReportTemplate

__all__ = [
    "PULLED",
    "JoinedReport",
    "NoOrgReportError",
    "PulledOrgReport",
    "apply_org",
    "choose",
    "keep",
    "local_objects",
    "org_report",
    "pulled",
]

PULLED = "pulled/org/"  # in the laptop's state directory: pulled/org/<cloud>/<run>.json
_SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")


class NoOrgReportError(EscherError):
    """No organization report to show: exit 2, as a report with no scan."""

    exit_code = 2


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a newer join may add fields: read what is known


class OrgFinding(_Loose):
    check_id: str
    resource_id: str
    severity: str
    title: str = ""


class OrgAccount(_Loose):
    """One account's section of the joined report: scanned, or why not."""

    account: str = Field(min_length=1)
    status: str  # scanned | not scanned | missing
    cloud: str = ""
    resources: int = 0
    failed: int = 0
    by_severity: dict[str, int] = Field(default_factory=dict)
    findings: list[OrgFinding] = Field(default_factory=list)  # the first failing ones (the join keeps 50)
    not_read: list[str] = Field(default_factory=list)
    error: str = ""
    hint: str = ""


class JoinedReport(_Loose):
    """``reports/org/<run>.json`` as the extension's join writes it."""

    run: str = Field(pattern=r"^[\w:.-]{1,80}$")
    started_at: datetime
    joined_at: datetime
    complete: bool = True
    cloud: str = ""
    accounts: list[OrgAccount]
    findings: int = 0
    not_scanned: list[str] = Field(default_factory=list)


class PulledOrgReport(_Loose):
    """A joined report as the laptop keeps it: the report and where it came from."""

    cloud: str = Field(pattern=r"^[a-z][a-z0-9]{1,15}$")
    source: str  # the object it was read from: <state url><key>
    version: str = ""
    pulled_at: datetime
    report: JoinedReport

    @property
    def run(self) -> str:
        return self.report.run

    def origin(self) -> str:
        joined = self.report.joined_at.astimezone(UTC)
        return (
            f"the {self.cloud} extension's organization scan {self.run}, joined {joined:%Y-%m-%d %H:%M} UTC "
            f"({self.source})"
        )


def local_objects(paths: Paths) -> PipelineObjects:
    """The laptop's state directory, where the pull keeps what it brings home."""
    from escher.pipeline.objects import LocalObjects

    return LocalObjects(paths.data_dir / "state")


def keep(local: PipelineObjects, cloud: str, source: str, version: str, data: bytes) -> str:
    """Validate one joined report read from the extension and keep it (a newer version of the same run
    replaces the older one: a late part makes the join write again). Returns the run; raises ValueError
    when the object is not a joined report."""
    report = JoinedReport.model_validate_json(data)
    pulled_report = PulledOrgReport(
        cloud=report.cloud or cloud,
        source=source,
        version=version,
        pulled_at=datetime.now(UTC),
        report=report,
    )
    local.put(
        f"{PULLED}{pulled_report.cloud}/{report.run}.json",
        json.dumps({**pulled_report.model_dump(mode="json"), "report": json.loads(data)}).encode(),
    )
    return report.run


def pulled(local: PipelineObjects, keys: list[str] | None = None) -> list[PulledOrgReport]:
    """The organization reports pulled so far (or those under ``keys``), oldest joined first; one that cannot
    be read is left out."""
    out = []
    for key in _keys(local) if keys is None else keys:
        got = local.get(key)
        if got is None:
            continue
        try:
            out.append(PulledOrgReport.model_validate_json(got.data))
        except ValidationError:
            continue
    return sorted(out, key=lambda p: (p.report.joined_at, p.cloud, p.run))


def _keys(local: PipelineObjects) -> list[str]:
    return [k for k in local.list(PULLED) if k.endswith(".json")]


def _run_of(key: str) -> str:
    return key.rsplit("/", 1)[-1].removesuffix(".json")


def choose(local: PipelineObjects, run: str | None, *, extended: bool) -> PulledOrgReport | None:
    """The report ``run`` names (an error when there is none by that id), else the newest pulled (or None).
    Reads only what it shows: a run's id starts with when it started, so the newest of each cloud is read."""
    keys = _keys(local)
    if run is None:
        newest: dict[str, str] = {}
        for key in keys:
            cloud = key.removeprefix(PULLED).split("/", 1)[0]
            if _run_of(key) > _run_of(newest.get(cloud, "")):
                newest[cloud] = key
        found = pulled(local, list(newest.values()))
        return found[-1] if found else None
    hit = pulled(local, [k for k in keys if _run_of(k) == run])
    if hit:
        return hit[-1]
    if not keys:
        raise NoOrgReportError(
            "no organization scan has been pulled from the extension",
            hint=(
                "the extension joins one after its 02:00 organization scan (every account's part in, or 4 h "
                "later); run `escher sync`, then `escher report`"
                if extended
                else "nothing is extended: organization scans are joined by the extension "
                "(`escher extend aws` with [aws] organization_units or accounts); here, run "
                "`escher scan --all-accounts`"
            ),
        )
    runs = ", ".join(sorted({_run_of(k) for k in keys}, reverse=True)[:5])
    raise NoOrgReportError(
        f"no organization scan {run} has been pulled from the extension",
        hint=f"pulled runs, newest first: {runs}; run `escher sync` for newer ones",
    )


def _rows(org: PulledOrgReport, wanted: set[str] | None) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Per-account rows as the report's breakdown holds them, the accounts not scanned with why, and the
    parts of scanned accounts that could not be read."""
    rows: list[dict[str, Any]] = []
    unreachable: list[str] = []
    partial: list[str] = []
    for s in org.report.accounts:
        if wanted is not None and s.account not in wanted:
            continue
        if s.status != "scanned":
            why = "; ".join(x.rstrip(".") for x in (s.error, s.hint) if x) or "no reason given"
            unreachable.append(f"{s.account}: {s.status}: {why}")
            continue
        row: dict[str, Any] = {"cloud": s.cloud or org.cloud, "account": s.account, "resources": s.resources,
                               "findings": s.failed}  # fmt: skip
        row |= {sev: n for sev, n in s.by_severity.items() if sev in _SEVERITIES}
        rows.append(row)
        partial += [f"account {s.account}: {p}" for p in s.not_read]
    rows.sort(key=lambda r: (-r.get("CRITICAL", 0), -r["findings"], r["account"]))
    return rows, unreachable, partial


def _summary(org: PulledOrgReport, newer: bool | None) -> dict[str, Any]:
    rep = org.report
    return {
        "origin": "extension",
        "cloud": org.cloud,
        "run": rep.run,
        "started_at": rep.started_at.isoformat(),
        "joined_at": rep.joined_at.isoformat(),
        "complete": rep.complete,
        "source": org.source,
        "pulled_at": org.pulled_at.isoformat(timespec="seconds"),
        "newer_than_local_scan": newer,
        "accounts": len(rep.accounts),
        "scanned": sum(1 for s in rep.accounts if s.status == "scanned"),
        "failing_findings": sum(s.failed for s in rep.accounts),
        "not_scanned": [
            {"account": s.account, "status": s.status, "error": s.error, "hint": s.hint}
            for s in rep.accounts
            if s.status != "scanned"
        ],
        "per_account": [s.model_dump(mode="json") for s in rep.accounts],
    }


def apply_org(
    report: MorningReport, org: PulledOrgReport, *, chosen: bool = False, accounts: list[str] | None = None
) -> MorningReport:
    """The report with ``org``'s summary and per-account breakdown when it is newer than the report's scan
    (or ``chosen`` by --run); else the report as it is, naming the older organization scan."""
    local_at = datetime.fromisoformat(report.data_as_of)
    if local_at.tzinfo is None:
        local_at = local_at.replace(tzinfo=UTC)
    newer = org.report.joined_at > local_at
    if not (newer or chosen):
        report.scope_notes.append(
            f"The extension's organization scan {org.run} (joined "
            f"{org.report.joined_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC) is "
            f"older than this scan: `escher report --run {org.run}` shows its per-account breakdown."
        )
        return report
    wanted = set(accounts) if accounts else None
    report.accounts, report.unreachable_accounts, partial = _rows(org, wanted)
    report.partial += partial
    report.organization = _summary(org, newer)
    when = "older than" if newer else "newer than"  # the local scan, to the organization scan
    report.scope_notes.insert(
        0,
        f"Accounts: from {org.origin()}; the findings below are this laptop's scan of "
        f"{local_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC, {when} it.",
    )
    return report


def org_report(
    org: PulledOrgReport, template: ReportTemplate, *, accounts: list[str] | None = None
) -> MorningReport:
    """The morning report of an organization scan alone (no local scan): the summary, the per-account
    breakdown, and the failing findings each account's part named, grouped by check."""
    from escher.report.model import Group, MorningReport

    wanted = set(accounts) if accounts else None
    rep = org.report
    rows, unreachable, partial = _rows(org, wanted)
    findings: list[dict[str, Any]] = []
    for s in rep.accounts:
        if s.status == "scanned" and (wanted is None or s.account in wanted):
            findings += [_finding(org, s, f) for f in s.findings]
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        groups.setdefault(f["check_id"], []).append(f)
    by_category: dict[str, list[Group]] = {"security": [], "cost": [], "operational": []}
    limit = {"detailed": 10}.get(template.format.value, 3)
    for check_id, members in groups.items():
        first = members[0]
        by_category.setdefault(first["category"], []).append(
            Group(
                check_id=check_id, title=first["title"],
                severity=max((m["severity"] for m in members), key=_rank), category=first["category"],
                count=len(members),
                resources=[f"{m['resource_id']} (account {m['account']})" for m in members[:limit]],
                environments={}, monthly_saving=0.0, remediation=first["remediation"],
                compliance=first["compliance"], finding_ids=[m["id"] for m in members],
            )
        )  # fmt: skip
    order = {s: i for i, s in enumerate(_SEVERITIES)}
    for key in by_category:
        by_category[key].sort(key=lambda g: (order.get(g.severity, 9), -g.count, g.check_id))
    totals: dict[str, int] = {}
    for row in rows:
        for sev in _SEVERITIES:
            if row.get(sev):
                totals[sev] = totals.get(sev, 0) + int(row[sev])
    joined = rep.joined_at.astimezone(UTC)
    now = datetime.now(UTC)
    wanted_sections = [
        s for s in template.ordered_sections() if s in ("security", "optimization", "operational")
    ]
    out = MorningReport(
        report_date=joined.date().isoformat(),
        generated_at=now.isoformat(timespec="seconds"),
        data_as_of=joined.isoformat(timespec="seconds"),
        scan_id=f"org:{org.cloud}:{rep.run}",
        focus=template.focus.value,
        format=template.format.value,
        sections=wanted_sections or ["security"],
        resources=sum(int(r["resources"]) for r in rows),
        partial=partial,
        scope_notes=[
            f"Organization report: from {org.origin()}; this laptop has no scan of its own. Findings: the "
            "first ones each account's part named (no cost, changes or alerts)."
        ],
        security=by_category["security"],
        optimization=by_category["cost"],
        operational=by_category["operational"],
        totals=totals,
        findings=findings,
        accounts=rows,
        unreachable_accounts=unreachable,
        organization=_summary(org, None),
    )
    return out


def _rank(severity: str) -> int:
    return -_SEVERITIES.index(severity) if severity in _SEVERITIES else -99


def _finding(org: PulledOrgReport, section: OrgAccount, f: OrgFinding) -> dict[str, Any]:
    """A failing finding of an account's part, in the columns every renderer reads (CSV, XLSX, OCSF)."""
    import hashlib

    meta = _check(f.check_id)
    cloud = section.cloud or org.cloud
    ident = hashlib.sha256(f"{cloud}|{section.account}|{f.check_id}|{f.resource_id}".encode()).hexdigest()
    return {
        "id": f"F-{ident[:10]}", "check_id": f.check_id, "severity": f.severity, "status": "FAIL",
        "cloud": cloud, "account": section.account, "region": "", "resource_type": meta.get("resource_type", ""),
        "resource_id": f.resource_id, "environment": "", "title": f.title or meta.get("title", f.check_id),
        "message": f.title, "category": meta.get("category", "security"), "monthly_saving": 0.0,
        "fix_operation": None, "remediation": meta.get("remediation", ""),
        "compliance": meta.get("compliance", {}), "as_of": org.report.joined_at.isoformat(),
    }  # fmt: skip


def _check(check_id: str) -> dict[str, Any]:
    """A registered check's metadata (category, remediation); empty for a check this laptop does not have."""
    from escher.scans.checks.base import CHECKS

    prefix = check_id.split(".", 1)[0] + "."
    if check_id not in CHECKS.keys(prefix):
        return {}
    return CHECKS.get(check_id).metadata()
