"""A compliance report in the report formats: JSON, CSV, Markdown, HTML and OCSF Compliance Findings.

OCSF: one Compliance Finding (class 2003, OCSF 1.1) per control x resource, ``compliance.status`` Pass or
Fail; a control without a resource verdict (manual, not read, not implemented) is one finding with no resource
and ``compliance.status`` Warning, its status detail saying why — so the file holds every control.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from typing import Any

from escher import __version__
from escher.compliance.evaluate import (
    ComplianceReport,
    ControlResult,
    ResourceVerdict,
    Verdict,
    counts,
    percent,
)

__all__ = ["FORMATS", "render"]

FORMATS = ("json", "csv", "md", "html", "ocsf")
CSV_COLUMNS = ("framework", "version", "control_id", "title", "section", "assessment", "status", "account",
               "check_id", "resource_id", "resource_type", "region", "resource_status", "message", "not_read", "note")  # fmt: skip


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def render(report: ComplianceReport, fmt: str, *, statuses: tuple[Verdict, ...] = ()) -> bytes:
    writers: dict[str, Callable[[ComplianceReport, tuple[Verdict, ...]], str]] = {
        "json": _json, "csv": _csv, "md": _markdown, "html": _html, "ocsf": _ocsf,
    }  # fmt: skip
    return writers[fmt](report, statuses).encode()


def _json(report: ComplianceReport, statuses: tuple[Verdict, ...]) -> str:
    return json.dumps(report.to_dict(statuses=statuses), indent=2) + "\n"


def _csv(report: ComplianceReport, statuses: tuple[Verdict, ...]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(CSV_COLUMNS)
    fw = report.framework
    for res in report.only(statuses):
        c = res.control
        head = [fw.id, fw.version, c.id, c.title, c.section, c.assessment, res.status.value]
        why = "; ".join(res.not_read)
        rows = res.by_resource()
        if not rows:
            out.writerow([*head, "", ";".join(res.checks), "", "", "", "", "", why, c.note])
        for first, fails in rows:
            for r in fails or [first]:
                out.writerow([*head, r.account, r.check_id, r.resource_id, r.resource_type, r.region,
                              r.status.value.lower(), r.message, why, c.note])  # fmt: skip
    return buf.getvalue()


def _summary_lines(report: ComplianceReport) -> list[tuple[str, str]]:
    c = report.counts
    return [
        ("Scan", f"{report.scan_id} ({report.scanned_at:%Y-%m-%d %H:%M} UTC)"),
        ("Clouds", ", ".join(report.clouds)),
        ("Compliant", f"{_pct(report.percent)} (pass / (pass + fail))"),
        ("Controls", ", ".join(f"{v} {k}" for k, v in c.items())),
    ]


def _markdown(report: ComplianceReport, statuses: tuple[Verdict, ...]) -> str:
    fw = report.framework
    lines = [f"# {fw.title}", ""]
    lines += [f"- **{k}:** {v}" for k, v in _summary_lines(report)]
    if report.accounts:
        lines += ["", "| Account | Compliant | Pass | Fail | Not read |", "|---|---|---|---|---|"]
        for acct, scoped in report.accounts.items():
            n = counts(scoped)
            lines.append(
                f"| {acct} | {_pct(percent(scoped))} | {n['pass']} | {n['fail']} | {n['not read']} |"
            )
    lines += ["", "| Control | Title | Assessment | Status | Failing resources |", "|---|---|---|---|---|"]
    for res in report.only(statuses):
        cell = ", ".join(sorted({r.resource_id for r in res.failed})) or ("; ".join(res.not_read) or "")
        if res.control.note:
            cell = f"{cell} (note: {res.control.note})" if cell else f"note: {res.control.note}"
        lines.append(f"| {res.control.id} | {_md(res.control.title)} | {res.control.assessment} | "
                     f"{res.status.value} | {_md(cell)} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "manual": "#6e7781", "not read": "#9a6700",
            "not implemented": "#57606a"}  # fmt: skip


def _html(report: ComplianceReport, statuses: tuple[Verdict, ...]) -> str:
    fw = report.framework
    rows = []
    for res in report.only(statuses):
        fails = "".join(
            f"<li><code>{escape(r.resource_id)}</code> {escape(r.check_id)}: {escape(r.message)}</li>"
            for r in res.failed
        )
        why = "".join(f"<li>{escape(n)}</li>" for n in res.not_read)
        if res.control.note:
            why += f"<li><em>{escape(res.control.note)}</em></li>"
        colour = _COLOURS[res.status.value]
        rows.append(
            f"<tr><td>{escape(res.control.id)}</td><td>{escape(res.control.title)}<br><small>"
            f"{escape(res.control.section)}</small></td><td>{res.control.assessment}</td>"
            f'<td style="color:{colour};font-weight:bold">{escape(res.status.value)}</td>'
            f"<td><ul>{fails}{why}</ul>{len(res.passed)} passing</td></tr>"
        )
    accounts = "".join(
        f"<tr><td>{escape(a)}</td><td>{_pct(percent(r))}</td></tr>" for a, r in report.accounts.items()
    )
    summary = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in _summary_lines(report))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(fw.title)}</title><style>body{{font-family:system-ui,sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;"
        "text-align:left}ul{margin:0;padding-left:1.2em}</style></head><body>"
        f"<h1>{escape(fw.title)}</h1><dl>{summary}</dl>"
        f"<h2>Accounts</h2><table><tr><th>Account</th><th>Compliant</th></tr>{accounts}</table>"
        "<h2>Controls</h2><table><tr><th>Control</th><th>Title</th><th>Assessment</th><th>Status</th>"
        f"<th>Resources</th></tr>{''.join(rows)}</table></body></html>\n"
    )


_SEVERITY_ID = {"INFO": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
_COMPLIANCE_STATUS = {"Pass": 1, "Warning": 2, "Fail": 3}


def _ocsf(report: ComplianceReport, statuses: tuple[Verdict, ...]) -> str:
    when = datetime.now(UTC)
    lines: list[str] = []  # a JSON array, one event a line, each encoded as it is made: few live objects
    for res in report.only(statuses):
        rows = res.by_resource()
        if not rows:
            lines.append(json.dumps(_ocsf_one(report, res, None, [], when), ensure_ascii=False))
        lines.extend(json.dumps(_ocsf_one(report, res, first, fails, when), ensure_ascii=False)
                     for first, fails in rows)  # fmt: skip
    return "[\n" + ",\n".join(lines) + "\n]\n"


def _ocsf_one(
    report: ComplianceReport,
    res: ControlResult,
    resource: ResourceVerdict | None,
    fails: list[ResourceVerdict],
    when: datetime,
) -> dict[str, Any]:
    fw = report.framework
    control = res.control
    if resource is None:
        status = "Warning"
        detail = res.status.value + (": " + "; ".join(res.not_read) if res.not_read else "")
    else:
        status = "Fail" if fails else "Pass"
        detail = "; ".join(f"{r.check_id}: {r.message}" for r in fails) or "every mapped check passed"
    severity = max((_SEVERITY_ID.get(r.severity, 0) for r in fails), default=1)
    event: dict[str, Any] = {
        "metadata": {
            "version": "1.1.0",
            "product": {"name": "Escher", "vendor_name": "Escher", "version": __version__},
            "event_code": f"{fw.id}:{control.id}",
            "profiles": ["cloud"] if resource else [],
        },
        "class_uid": 2003,
        "class_name": "Compliance Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200301,
        "type_name": "Compliance Finding: Create",
        "severity_id": severity,
        "severity": {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}[severity],
        "status_id": 1,
        "status": "New",
        "time": int(when.timestamp() * 1000),
        "time_dt": when.isoformat(),
        "finding_info": {
            "uid": f"{fw.id}:{control.id}:{resource.resource_id if resource else '-'}",
            "title": f"{control.id} {control.title}",
            "desc": control.section,
            "types": ["compliance"],
        },
        "compliance": {
            "standards": [fw.title],
            "control": control.id,
            "requirements": list(res.checks),
            "status": status,
            "status_id": _COMPLIANCE_STATUS[status],
            "status_code": res.status.value,
            "status_detail": detail,
        },
        "unmapped": {"scan_id": report.scan_id, "assessment": control.assessment},
    }
    if resource is not None:
        event["resources"] = [
            {"uid": resource.resource_id, "type": resource.resource_type, "region": resource.region}
        ]
        event["cloud"] = {
            "provider": resource.cloud,
            "region": resource.region,
            "account": {"uid": resource.account},
        }
    return event
