"""CSV and XLSX: the findings table (and, in XLSX, the summary and cost sheets) for spreadsheets.

The workbook is written in openpyxl's write-only mode (100,000 findings in a few seconds); its header is
frozen and filtered, columns have widths, severities are coloured by conditional formatting (one rule per
severity, not a style per cell) and the Cost sheet has a 30-day line chart.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from escher.lazy import require
from escher.report.model import MorningReport
from escher.report.render.charts import SEVERITY_COLOURS

COLUMNS = (
    "id", "check_id", "severity", "status", "cloud", "account", "region", "resource_type", "resource_id",
    "environment", "title", "message", "category", "monthly_saving", "fix_operation", "remediation", "as_of",
)  # fmt: skip
WIDTHS = {
    "id": 14, "check_id": 34, "severity": 11, "status": 8, "cloud": 7, "account": 14, "region": 14,
    "resource_type": 22, "resource_id": 30, "environment": 12, "title": 40, "message": 50, "category": 12,
    "monthly_saving": 14, "fix_operation": 30, "remediation": 60, "as_of": 22,
}  # fmt: skip


def _row(f: dict[str, Any]) -> list[Any]:
    return [f.get(c, "") if c != "fix_operation" else (f.get(c) or "") for c in COLUMNS]


def render_csv(report: MorningReport) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for f in report.findings:
        writer.writerow(_row(f))
    return buf.getvalue().encode()


class _Book:
    def __init__(self) -> None:
        self.xl = require("openpyxl", "report")
        self.styles = require("openpyxl.styles", "report")
        self.utils = require("openpyxl.utils", "report")
        self.wb = self.xl.Workbook(write_only=True)
        self.bold = self.styles.Font(bold=True, color="FFFFFF")
        self.head_fill = self.styles.PatternFill("solid", fgColor="12355B")

    def sheet(self, title: str, names: list[str], widths: list[float], rows: int) -> Any:
        """A sheet with a frozen, filtered, styled header row over ``rows`` data rows."""
        ws = self.wb.create_sheet(title)
        for i, width in enumerate(widths, 1):
            ws.column_dimensions[self.utils.get_column_letter(i)].width = width
        ws.freeze_panes = "A2"
        last = self.utils.get_column_letter(len(names))
        ws.auto_filter.ref = f"A1:{last}{max(rows + 1, 2)}"
        cells = []
        for name in names:
            cell = self.xl.cell.WriteOnlyCell(ws, value=name)
            cell.font, cell.fill = self.bold, self.head_fill
            cells.append(cell)
        ws.append(cells)
        return ws

    def colour_severities(self, ws: Any, column: str, rows: int) -> None:
        rule = require("openpyxl.formatting.rule", "report")
        ref = f"{column}2:{column}{max(rows + 1, 2)}"
        for sev, colour in SEVERITY_COLOURS.items():
            fill = self.styles.PatternFill("solid", fgColor=colour.lstrip("#"), bgColor=colour.lstrip("#"))
            font = self.styles.Font(bold=True, color="FFFFFF")
            ws.conditional_formatting.add(
                ref, rule.CellIsRule(operator="equal", formula=[f'"{sev}"'], fill=fill, font=font)
            )


def render_xlsx(report: MorningReport) -> bytes:
    book = _Book()
    items: list[tuple[str, Any]] = [("report date", report.report_date), ("resources", report.resources)]
    items += [(f"{sev} findings", n) for sev, n in sorted(report.totals.items())]
    items.append(("potential savings / month (USD)", report.savings_total))
    items += [("NOT READ", p) for p in report.partial]
    items += [("NOTE", n) for n in report.scope_notes]
    summary = book.sheet("Summary", ["item", "value"], [34, 90], len(items))
    for item in items:
        summary.append(list(item))
    findings = book.sheet("Findings", list(COLUMNS), [WIDTHS[c] for c in COLUMNS], len(report.findings))
    book.colour_severities(
        findings, book.utils.get_column_letter(COLUMNS.index("severity") + 1), len(report.findings)
    )
    for f in report.findings:
        findings.append(_row(f))
    if report.cost:
        _cost_sheet(book, report)
    buf = io.BytesIO()
    book.wb.save(buf)
    return buf.getvalue()


def _cost_sheet(book: _Book, report: MorningReport) -> None:
    cost = report.cost or {}
    by_service = cost.get("by_service", [])
    trend = report.cost_trend
    rows = max(len(trend), len(by_service))
    ws = book.sheet("Cost", ["day", "total (USD)", "", "service", "yesterday", "vs previous day"],
                    [12, 14, 3, 44, 14, 16], rows)  # fmt: skip
    for i in range(rows):
        day, total = trend[i] if i < len(trend) else ("", None)
        svc = by_service[i] if i < len(by_service) else ("", None, None)
        ws.append([day, total, None, *svc])
    if len(trend) >= 2:
        charts = require("openpyxl.chart", "report")
        chart = charts.LineChart()
        chart.title = f"Daily spend, last {len(trend)} days"
        chart.y_axis.title = "USD"
        chart.height, chart.width = 8, 18
        chart.legend = None
        data = charts.Reference(ws, min_col=2, min_row=1, max_row=len(trend) + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(charts.Reference(ws, min_col=1, min_row=2, max_row=len(trend) + 1))
        ws.add_chart(chart, "H2")


def render(report: MorningReport, fmt: str) -> bytes:
    return render_xlsx(report) if fmt == "xlsx" else render_csv(report)
