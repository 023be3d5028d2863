"""As a user on moto: `escher scan`, then `escher compliance report cis-aws` shows the public bucket failing
3.1.4 and the compliant password policy passing 2.8, manual recommendations listed as manual, % compliant per
account; every report format parses; unknown frameworks and a missing scan are clear errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.scans.estate import REGION

ESCHER = str(Path(sys.executable).with_name("escher"))
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture
def scanned(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    from escher.cli.main import app

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("COLUMNS", "200")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="compliance-public")
    s3.put_bucket_acl(Bucket="compliance-public", ACL="public-read")
    s3.create_bucket(Bucket="compliance-private")
    flags = dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    s3.put_public_access_block(Bucket="compliance-private", PublicAccessBlockConfiguration=flags)
    iam = boto3.client("iam", region_name=REGION)
    iam.update_account_password_policy(MinimumPasswordLength=16, PasswordReusePrevention=24)
    res = CliRunner().invoke(app, ["scan", "--region", REGION])
    assert res.exit_code in (0, 1), res.output
    yield {"public": "compliance-public", "private": "compliance-private"}


def _run(*args: str) -> tuple[int, str]:
    from escher.cli.main import app

    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def _controls(report: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["id"]: c for c in report["controls"]}


def test_cis_aws_report_on_a_moto_scan(scanned: dict[str, str]) -> None:
    code, out = _run("--output", "json", "compliance", "report", "cis-aws")
    assert code == 0, out
    report = json.loads(out)
    assert report["framework"]["id"] == "cis-aws" and report["framework"]["version"] == "7.0.0"
    controls = _controls(report)
    assert len(controls) == 70  # every recommendation, none dropped

    block = controls["3.1.4"]
    assert block["status"] == "fail"
    failing = {r["resource_id"] for r in block["failed"]}
    assert scanned["public"] in failing and scanned["private"] not in failing
    assert scanned["private"] in {r["resource_id"] for r in block["passed"]}

    assert controls["2.8"]["status"] == "pass"  # the password policy asks for 16 characters
    assert controls["2.9"]["status"] == "pass"
    assert controls["2.1.1"]["status"] == "manual" and controls["2.1.1"]["assessment"] == "manual"
    # Access Analyzer (moto has none): replayed in front of moto, one ACTIVE account analyzer in the region
    assert controls["2.18"]["status"] == "pass"
    assert set(report["counts"]) == {"pass", "fail", "manual", "not read", "not implemented"}
    assert sum(report["counts"].values()) == 70
    n = report["counts"]
    assert report["percent_compliant"] == round(100 * n["pass"] / (n["pass"] + n["fail"]), 1)
    assert [a["account"] for a in report["accounts"]] == [ACCOUNT]

    code, out = _run("--output", "json", "compliance", "report", "cis-aws", "--status", "fail")
    assert code == 0, out
    assert {c["status"] for c in json.loads(out)["controls"]} == {"fail"}

    code, out = _run("compliance", "report", "cis-aws", "--account", ACCOUNT)
    assert code == 0, out
    assert "3.1.4" in out and scanned["public"] in out and "Compliant:" in out and f"account {ACCOUNT}" in out

    code, out = _run("--output", "json", "compliance", "list")
    assert code == 0, out
    listed = {f["id"]: f for f in json.loads(out)}
    assert set(listed) == {"cis-aws", "cis-azure", "cis-gcp", "soc2", "hipaa", "nist-800-53"}
    assert listed["cis-aws"]["percent_compliant"] == report["percent_compliant"]
    assert listed["cis-aws"]["controls"] == 70


def test_every_format_parses(scanned: dict[str, str], tmp_path: Path) -> None:
    def written(fmt: str, framework: str = "cis-aws") -> str:
        path = tmp_path / f"{framework}.{fmt}"
        code, out = _run("compliance", "report", framework, "--format", fmt, "--output-file", str(path))
        assert code == 0, out
        return path.read_text()

    assert len(json.loads(written("json"))["controls"]) == 70

    rows = list(csv.DictReader(io.StringIO(written("csv"))))
    assert {r["control_id"] for r in rows} == {c["id"] for c in json.loads(written("json"))["controls"]}
    bucket_rows = [r for r in rows if r["control_id"] == "3.1.4" and r["resource_id"] == scanned["public"]]
    assert bucket_rows and all(r["resource_status"] == "fail" for r in bucket_rows)

    md = written("md")
    assert md.startswith("# CIS Amazon Web Services Foundations Benchmark v7.0.0") and "| 3.1.4 |" in md

    html = written("html")
    assert html.startswith("<!doctype html>") and "<table>" in html and scanned["public"] in html

    events = json.loads(written("ocsf"))
    required = ("activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time", "type_uid",
                "finding_info", "compliance")  # fmt: skip
    for e in events:
        assert all(k in e for k in required), e
        assert (e["class_uid"], e["category_uid"], e["type_uid"]) == (2003, 2, 200301)
        assert e["metadata"]["version"] and e["metadata"]["product"]["name"] == "Escher"
        assert e["finding_info"]["uid"] and e["finding_info"]["title"]
        assert e["compliance"]["standards"] and e["compliance"]["status"] in ("Pass", "Fail", "Warning")
        assert e["compliance"]["status_id"] == {"Pass": 1, "Warning": 2, "Fail": 3}[e["compliance"]["status"]]
    public = [e for e in events if e["compliance"]["control"] == "3.1.4"
              and e["resources"][0]["uid"] == scanned["public"]]  # fmt: skip
    private = [e for e in events if e["compliance"]["control"] == "3.1.4"
               and e["resources"][0]["uid"] == scanned["private"]]  # fmt: skip
    assert [e["compliance"]["status"] for e in public] == ["Fail"]
    assert [e["compliance"]["status"] for e in private] == ["Pass"]
    assert (
        public[0]["cloud"] == {"provider": "aws", "region": REGION, "account": {"uid": ACCOUNT}}
        or public[0]["cloud"]["account"]["uid"] == ACCOUNT
    )
    assert {e["compliance"]["control"] for e in events} == {
        c["id"] for c in json.loads(written("json"))["controls"]
    }

    by_name = tmp_path / "by-name.html"  # no --format: the file's name says which
    code, out = _run("compliance", "report", "cis-aws", "--output-file", str(by_name))
    assert code == 0 and by_name.read_text().startswith("<!doctype html>"), out

    soc2 = json.loads(written("json", "soc2"))
    assert (
        _controls(soc2)["CC6.1"]["status"] == "fail"
    )  # the public bucket (aws.s3.bucket_public names CC6.1)


def _escher(*args: str) -> tuple[int, str]:
    """The installed command, as a user runs it: errors are shown (message, what to do) with their exit code."""
    done = subprocess.run([ESCHER, *args], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_clear_errors(escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("COLUMNS", "200")
    code, out = _escher("compliance", "report", "cis-awz")
    assert code == 2 and "unknown framework 'cis-awz'" in out and "escher compliance list" in out
    assert "did you mean cis-aws" in out
    code, out = _escher("compliance", "report", "cis-aws")
    assert code == 2 and "no scan yet" in out and "escher scan" in out
    code, out = _run("compliance", "list")
    assert code == 0 and "No scan yet" in out and "cis-gcp" in out
    code, out = _escher("compliance", "report", "cis-aws", "--format", "pdf")
    assert code == 2 and "unknown format 'pdf'" in out
