"""The CLI as a user types it: the installed ``escher`` script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from escher import __version__

ESCHER = str(Path(sys.executable).parent / "escher")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCHER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"escher {__version__}"
    out = run("--help")
    assert out.returncode == 0 and "init" in out.stdout and "doctor" in out.stdout


def test_init_then_doctor_as_json(escher_home: Path) -> None:
    first = run("--output", "json", "init")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["written"] is True
    again = json.loads(run("-o", "json", "init").stdout)
    assert again["written"] is False
    doctor = run("-o", "json", "doctor", "--no-store")
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["ok"] is True
    by_name = {(c["area"], c["name"]): c for c in report["checks"]}
    assert by_name[("escher", "config")]["status"] == "ok"
    # the suite scrubs credentials: the chains must say so, and what to do
    assert by_name[("aws", "credentials")]["status"] == "warn"
    assert "aws configure" in by_name[("aws", "credentials")]["hint"]


def test_doctor_finds_aws_credentials_in_the_standard_chain(escher_home: Path) -> None:
    report = json.loads(
        run(
            "-o",
            "json",
            "doctor",
            "--no-store",
            env={"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"},
        ).stdout
    )
    aws = next(c for c in report["checks"] if c["area"] == "aws")
    assert aws["status"] == "ok" and "env" in aws["detail"]
    assert "AKIAEXAMPLE" not in json.dumps(report)  # doctor never prints a credential


def test_doctor_fails_when_the_config_is_broken(escher_home: Path) -> None:
    run("init")
    (escher_home / "config" / "config.toml").write_text("[general]\ntimezone = 'Nowhere/Land'\n")
    out = run("doctor", "--no-store")
    assert out.returncode == 1
    assert "unknown time zone" in out.stdout


def test_a_broken_config_is_a_clear_error_with_advice(escher_home: Path) -> None:
    run("init")
    (escher_home / "config" / "config.toml").write_text("[general\n")
    out = run("init")
    assert out.returncode == 2
    assert "Error:" in out.stderr and "What to do:" in out.stderr
    as_json = json.loads(run("-o", "json", "init").stdout)
    assert as_json["error"] == "ConfigError" and as_json["hint"]


@pytest.mark.parametrize("args", [["--output", "yaml", "init"], ["no-such-command"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run(*args).returncode == 2
