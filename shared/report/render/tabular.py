"""CSV and XLSX: the findings table (and, in XLSX, the summary and cost sheets) for spreadsheets."""

from __future__ import annotations

import csv
import io
from typing import Any

from escher.lazy import require
from escher.report.model import MorningReport

COLUMNS = (
    "id", "check_id", "severity", "status", "cloud", "account", "region", "resource_type", "resource_id",
    "environment", "title", "message", "category", "monthly_saving", "fix_operation", "remediation",
)  # fmt: skip


def _row(f: dict[str, Any]) -> list[Any]:
    return [f.get(c, "") if c != "fix_operation" else (f.get(c) or "") for c in COLUMNS]


def render_csv(report: MorningReport) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for f in report.findings:
        writer.writerow(_row(f))
    return buf.getvalue().encode()


def render_xlsx(report: MorningReport) -> bytes:
    openpyxl = require("openpyxl", "report")
    styles = require("openpyxl.styles", "report")
    wb = openpyxl.Workbook(write_only=True)
    bold = styles.Font(bold=True)

    def header(ws: Any, names: tuple[str, ...] | list[str]) -> None:
        cells = []
        for name in names:
            cell = openpyxl.cell.WriteOnlyCell(ws, value=name)
            cell.font = bold
            cells.append(cell)
        ws.append(cells)

    summary = wb.create_sheet("Summary")
    header(summary, ["item", "value"])
    summary.append(["report date", report.report_date])
    summary.append(["resources", report.resources])
    for sev, n in sorted(report.totals.items()):
        summary.append([f"{sev} findings", n])
    summary.append(["potential savings / month (USD)", report.savings_total])
    for p in report.partial:
        summary.append(["NOT READ", p])
    findings = wb.create_sheet("Findings")
    header(findings, COLUMNS)
    for f in report.findings:
        findings.append(_row(f))
    if report.cost:
        cost = wb.create_sheet("Cost")
        header(cost, ["service", "yesterday", "delta vs previous day"])
        for svc, amount, delta in report.cost["by_service"]:
            cost.append([svc, amount, delta])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(report: MorningReport, fmt: str) -> bytes:
    return render_xlsx(report) if fmt == "xlsx" else render_csv(report)
