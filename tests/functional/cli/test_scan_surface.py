"""On a moto estate, as a user types it: ``-o json`` after scan, report and findings, the OCSF format under both
spellings, and exit code 2 for a finding id that names nothing (issue 17, item 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

from escher.emulators import MotoEmulator

ESCHER = str(Path(sys.executable).parent / "escher")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCHER, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300, check=False
    )


def test_a_scanned_estate_speaks_json_after_every_command(aws_env: MotoEmulator, escher_home: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="escher-surface-open")
    # the embedded store outside pytest's base dir, whose mode other sessions reset (as in tests/unit/test_cli.py)
    with tempfile.TemporaryDirectory(prefix="escher-cli-") as data:
        env = {"ESCHER_DATA_DIR": data}
        scan = run("scan", "--checks", "aws.s3.*", "-o", "json", env=env)
        assert scan.returncode == 0, scan.stderr
        findings = json.loads(scan.stdout)["findings"]
        assert findings
        ocsf = json.loads(run("scan", "--checks", "aws.s3.*", "--format", "ocsf", env=env).stdout)
        old = json.loads(run("scan", "--checks", "aws.s3.*", "-o", "ocsf", env=env).stdout)
        assert ocsf and len(ocsf) == len(old) and "class_uid" in ocsf[0] and "class_uid" in old[0]

        listed = json.loads(run("findings", "list", "-o", "json", env=env).stdout)
        assert listed and listed[0]["id"].startswith("F-")
        report = run("report", "-o", "json", env=env)
        assert report.returncode == 0 and isinstance(json.loads(report.stdout), dict)
        before = json.loads(run("-o", "json", "report", env=env).stdout)
        after = json.loads(report.stdout)
        assert {k: v for k, v in before.items() if k != "generated_at"} == {
            k: v for k, v in after.items() if k != "generated_at"
        }

        for args in (["findings", "show", "F-nope"], ["fix", "F-nope"]):
            out = run(*args, env=env)
            assert out.returncode == 2, (args, out.stderr)
            assert "Error:" in out.stderr and "Traceback" not in out.stderr
