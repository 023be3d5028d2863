"""``escher demo`` from start to end: it must show the fixed bucket, the waiting group, and clean up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ESCHER = str(Path(sys.executable).parent / "escher")


@pytest.mark.slow
def test_demo_runs_end_to_end_and_leaves_nothing_behind(
    escher_home: Path, request: pytest.FixtureRequest
) -> None:
    # its own short TMPDIR (the embedded Postgres's socket path must stay under ~100 bytes), so that another
    # process's demo cannot blur the check
    private_tmp = Path(tempfile.mkdtemp(prefix="ed-"))
    request.addfinalizer(lambda: shutil.rmtree(private_tmp, ignore_errors=True))
    out = subprocess.run([ESCHER, "-o", "json", "demo"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TMPDIR": str(private_tmp)}, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["outcomes"] == {
        "bucket_public": "auto_resolved",
        "bucket_public_redelivered": "duplicate",
        "ssh_open": "needs_approval",
        "garbage": "dead_lettered",
        "gcs_public": "auto_resolved",
    }
    assert result["gcs_still_public"] is False
    assert result["bucket_block"] and all(result["bucket_block"].values())
    assert result["ssh_still_open"] is True and result["approval_request_id"]
    assert result["audit_records_verified"] == 3  # one per handled event: AWS bucket, AWS SG, GCS bucket
    assert result["ledger"]["ok"] is True and result["ledger"]["records"] >= 3
    assert result["findings"] > 0
    assert [d["source"] for d in result["dead_letters"]] == ["eventbridge"]
    assert {a["severity"] for a in result["alerts"]} == {"CRITICAL", "HIGH"}
    assert result["seconds"] < 60
    # the user's own config and data dirs (escher_home) were never written, and the temp dir is gone
    assert not (escher_home / "config").exists() and not (escher_home / "data").exists()
    assert list(private_tmp.glob("escher-demo-*")) == []
