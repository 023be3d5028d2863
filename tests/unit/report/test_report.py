from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from escher.config import Settings
from escher.report.builder import build_report
from escher.report.model import MorningReport
from escher.report.render import UnknownFormatError, render
from escher.report.template import ReportTemplate, TemplateError, load_template
from escher.scans.persist import ImmutableRecordError, JsonFileStore
from escher.scans.runner import ScanOptions, run_scan
from escher.scans.synthetic import cost_snapshot, estate

NOW = datetime(2025, 3, 15, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def report() -> MorningReport:
    prev = run_scan(Settings(), ScanOptions(), inventory=estate(300, now=NOW))
    scan = run_scan(Settings(), ScanOptions(), inventory=estate(360, now=NOW))
    costs = [cost_snapshot(date(2025, 3, 14), spike=200)]
    return build_report(scan, ReportTemplate(budget_monthly=25000), previous=prev, costs=costs, now=NOW)


def test_report_has_the_visions_sections_with_fixes_and_savings(report: MorningReport) -> None:
    assert report.sections[0] == "alerts"
    assert any("Cost anomaly" in a.title for a in report.alerts)
    assert report.cost and report.cost["day_delta"] > 0 and report.cost["above_threshold"]
    public = next(g for g in report.security if g.check_id == "aws.s3.bucket_public")
    assert public.severity == "CRITICAL" and public.fix_command.startswith("escher fix")
    idle = next(g for g in report.optimization if g.check_id == "aws.ec2.instance_idle")
    assert idle.monthly_saving > 0 and report.savings_total >= idle.monthly_saving
    assert report.changes and report.changes[0].kind == "added" and report.changes[0].monthly_cost_impact > 0
    assert report.questions


def test_every_format_renders(report: MorningReport) -> None:
    assert render(report, "pdf").startswith(b"%PDF")
    html = render(report, "html").decode()
    assert "<html" in html and "S3 bucket is readable by anyone" in html
    assert "## Cost summary" in render(report, "md").decode()
    rows = list(csv.DictReader(io.StringIO(render(report, "csv").decode())))
    assert len(rows) == len(report.findings) and rows[0]["check_id"]
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))
    assert wb.sheetnames == ["Summary", "Findings", "Cost"]
    assert wb["Findings"].max_row == len(report.findings) + 1
    ocsf = json.loads(render(report, "ocsf"))
    assert ocsf[0]["class_uid"] == 2004 and ocsf[0]["finding_info"]["uid"].startswith("F-")
    as_json = json.loads(render(report, "json"))
    assert json.loads(json.dumps(MorningReport.from_dict(as_json).to_dict())) == as_json
    assert "Good Morning Report" in render(report, "text").decode()
    with pytest.raises(UnknownFormatError):
        render(report, "docx")


def test_executive_is_shorter_and_focus_reorders() -> None:
    scan = run_scan(Settings(), ScanOptions(), inventory=estate(300, now=NOW))
    detailed = build_report(scan, ReportTemplate(), now=NOW)
    exec_ = build_report(scan, ReportTemplate(format="executive", focus="cost"), now=NOW)
    assert exec_.sections[:3] == ["alerts", "cost", "optimization"]
    assert len(render(exec_, "md")) < len(render(detailed, "md")) / 2


def test_template_errors_are_typed() -> None:
    with pytest.raises(TemplateError):
        load_template({"report": {"focus": "vibes"}})
    with pytest.raises(TemplateError):
        load_template({"report": {"sections": ["weather"]}})


def test_reports_are_immutable(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path)
    store.put("report", "2025-03-15", {"a": 1})
    with pytest.raises(ImmutableRecordError):
        store.put("report", "2025-03-15", {"a": 2})
    assert store.get("report", "2025-03-15") == {"a": 1}
