"""What the HTML, PDF and XLSX reports hold: structure and content, not pixels."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from escher.config import Settings
from escher.report.builder import build_report
from escher.report.model import MorningReport
from escher.report.render import render
from escher.report.render.html import TEMPLATE, html
from escher.scans.runner import ScanOptions, run_scan
from escher.scans.synthetic import cost_snapshot, estate

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def report() -> MorningReport:
    scan = run_scan(Settings(), ScanOptions(), inventory=estate(300, now=NOW))
    previous = run_scan(Settings(), ScanOptions(), inventory=estate(280, now=NOW))
    costs = [cost_snapshot(date(2026, 12, 6), spike=150)]
    return build_report(scan, previous=previous, costs=costs, now=NOW)


def _sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section class="(\w+)" id="\w+">(.*?)</section>', page, re.S))


def test_html_opens_with_a_headline_and_two_inline_charts(report: MorningReport) -> None:
    page = render(report, "html").decode()
    head = page[page.index('id="headline"') : page.index('class="charts"')]
    assert f"<b>{report.totals['CRITICAL']}</b><span>critical</span>" in head
    assert f"<b>{report.totals['HIGH']}</b><span>high</span>" in head
    assert f"${report.savings_total:,.2f}" in head
    assert f"Since the previous scan: {report.new_findings} new finding" in head
    charts = page[page.index('class="charts"') : page.index("<section")]
    assert charts.count("<svg") == 2 and "Daily spend, last 30 days" in charts
    assert charts.count("<polyline") == 1 and charts.count("<rect") >= 3  # trend line, severity bars
    # nothing fetched: no external reference of any kind
    assert not re.search(r'(src|href)="https?:', page) and "@import" not in page


def test_html_has_no_empty_section(report: MorningReport) -> None:
    sections = _sections(render(report, "html").decode())
    assert {"alerts", "cost", "security", "optimization", "operational"} <= set(sections)
    for name, body in sections.items():
        assert re.sub(r"<h2>.*?</h2>|<[^>]+>|\s", "", body), f"{name} is a heading with nothing under it"


def test_a_quiet_day_leaves_out_the_changes_heading_and_shows_zero_as_neutral() -> None:
    flat = cost_snapshot(date(2026, 12, 6))
    flat.rows = [replace(row, amount=100.0) for row in flat.rows]  # the same spend every day
    rep = build_report(
        run_scan(Settings(), ScanOptions(), inventory=estate(30, now=NOW)), costs=[flat], now=NOW
    )
    page = render(rep, "html").decode()
    assert "Top changes since the previous scan" not in page
    assert '<b class="neutral">$0.00</b><span>vs previous day</span>' in page
    assert "+0.00" not in page and "+$0.00" not in page


def test_each_fix_is_a_visible_command_with_a_copy_button(report: MorningReport) -> None:
    page = render(report, "html").decode()
    fixes = [g.fix_command for g in report.security + report.optimization if g.fix_command]
    assert fixes
    for cmd in fixes:
        assert f'<code>{cmd}</code><button type="button" data-copy="{cmd}"' in page
    assert "navigator.clipboard" in page


def test_a_users_template_replaces_the_built_in_one(report: MorningReport, tmp_path: Path) -> None:
    (tmp_path / TEMPLATE).write_text("<p>{{ page.critical }} critical for {{ report.scan_id }}</p>")
    built_in = Path(__file__).resolve().parents[3] / "shared" / "report" / "templates"
    assert (
        html(report, [tmp_path, built_in])
        == f"<p>{report.totals['CRITICAL']} critical for {report.scan_id}</p>"
    )


def _content_streams(pdf: bytes) -> bytes:
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            continue  # a font or image stream, not page content
    return b"".join(out)


def test_pdf_text_is_left_aligned(report: MorningReport) -> None:
    content = _content_streams(render(report, "pdf"))
    assert b" Tj" in content
    # fpdf2 justifies a line by spacing its words in a TJ array: none may be there
    assert b"] TJ" not in content


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_pdf_questions_are_not_a_page_of_their_own(report: MorningReport, tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    path.write_bytes(render(report, "pdf"))
    first = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(path), "-"], capture_output=True, text=True
    )
    assert "Ask Escher" in first.stdout and f"{report.totals['CRITICAL']}" in first.stdout
    everything = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    last_page = everything.rstrip("\f").split("\f")[-1]
    assert "Ask Escher" not in last_page or len(everything.split("\f")) == 2


def test_xlsx_has_frozen_filtered_sized_coloured_sheets_and_a_cost_chart(report: MorningReport) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))
    ws = wb["Findings"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:Q{len(report.findings) + 1}"
    assert ws.column_dimensions["B"].width == 34 and ws.column_dimensions["L"].width == 50
    assert ws["A1"].font.bold and ws["C1"].value == "severity"
    rules = [r for cf in ws.conditional_formatting for r in cf.rules]
    assert {r.formula[0] for r in rules} == {'"CRITICAL"', '"HIGH"', '"MEDIUM"', '"LOW"', '"INFO"'}
    cost = wb["Cost"]
    assert cost.freeze_panes == "A2" and len(cost._charts) == 1
    assert cost.max_row == len(report.cost_trend) + 1 and cost["A2"].value == report.cost_trend[0][0]
    assert wb["Summary"].freeze_panes == "A2"


def test_cost_trend_is_the_last_30_days(report: MorningReport) -> None:
    days = [d for d, _ in report.cost_trend]
    assert len(days) == 30 and days[-1] == "2026-12-06"
    assert days[0] == (date(2026, 12, 6) - timedelta(days=29)).isoformat()


def test_text_and_markdown_open_with_the_headline_and_what_was_not_read(report: MorningReport) -> None:
    first_scan = build_report(
        run_scan(Settings(), ScanOptions(checks=["aws.s3.*"]), inventory=estate(30, now=NOW)),
        now=NOW,
        notes=["The latest scan ran 6 of 56 checks (a filtered scan)."],
    )
    md = render(first_scan, "md").decode()
    assert "first scan: nothing to compare with yet" in md.split("## ")[0]
    assert "> - The latest scan ran 6 of 56 checks (a filtered scan)." in md.split("## ")[0]
    text = render(report, "text").decode()
    top = text.split("Critical alerts")[0]
    assert f"{report.totals['CRITICAL']} critical, {report.totals['HIGH']} high" in top
    assert "new finding" in top
