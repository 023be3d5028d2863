"""``escher events normalize`` / ``explain`` as a user types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.events._samples import SAMPLES

ESCHER = str(Path(sys.executable).parent / "escher")


def run(*args: str, stdin: bytes | None = None, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "ESCHER_CONFIG_DIR": str(home / "config"), "ESCHER_DATA_DIR": str(home / "data")}
    return subprocess.run([ESCHER, *args], input=stdin, capture_output=True, env=env, timeout=60, check=False)


def test_normalize_a_file_as_json(tmp_path: Path) -> None:
    out = run(
        "-o", "json", "events", "normalize", str(SAMPLES / "aws" / "guardduty_finding.json"), home=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["event_type"] == "threat_finding"


def test_explain_from_stdin_uses_the_config_rules(tmp_path: Path) -> None:
    # GIVEN a user rule making any public bucket CRITICAL (the default would say HIGH without PII)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(
        '[[severity.rules]]\nname = "any public bucket"\nevent_type = "storage_bucket_public"\nseverity = "CRITICAL"\n'
    )
    body = (SAMPLES / "gcp" / "storage_set_iam_all_users.json").read_bytes()
    out = run("--output", "json", "events", "explain", "-", stdin=body, home=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["decision"]["rule"] == "any public bucket" and result["decision"]["origin"] == "user"
    assert result["event"]["severity"] == "CRITICAL"
    assert result["normalizer"]["key"] == "gcp.storage.set_iam_permissions"


def test_explain_text_and_bad_input_errors(tmp_path: Path) -> None:
    ok = run("events", "explain", str(SAMPLES / "aws" / "rds_instance_shutdown.json"), home=tmp_path)
    assert ok.returncode == 0 and b"database down" in ok.stdout
    bad = run("-o", "json", "events", "normalize", "-", stdin=b'{"hello": 1}', home=tmp_path)
    assert bad.returncode == 4 and json.loads(bad.stdout)["error"] == "NormalizationError"
    missing = run("events", "normalize", str(tmp_path / "nope.json"), home=tmp_path)
    assert missing.returncode == 2 and b"cannot read" in missing.stderr
