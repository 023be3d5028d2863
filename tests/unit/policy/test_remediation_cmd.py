"""``escher remediation list|enable|disable`` and the config write behind it (only [remediation] changes)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.config import resolve_paths
from escher.policy.errors import PolicyError
from escher.policy.remediation import RemediationSettings, save_remediation, set_switch

runner = CliRunner()

CONFIG = """\
# Escher configuration, edited by hand
[general]
timezone = "Europe/Paris"  # where the team is

[remediation]
stop_idle_instances = false
idle_hours = 6.0

# who approves
[personas]
managers = ["mona"]
"""


@pytest.fixture
def config(escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ESCHER_USER", "mona")
    path = escher_home / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(CONFIG)
    return path


def _cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_list_shows_the_six_switches_off_with_thresholds(config: Path) -> None:
    result = _cli("-o", "json", "remediation", "list")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert list(rows) == [
        "make_public_buckets_private",
        "stop_idle_instances",
        "encrypt_unencrypted_volumes",
        "scale_up_near_capacity",
        "restart_failed_services",
        "rollback_failed_deployments",
    ]
    assert not any(r["enabled"] for r in rows.values())
    assert rows["stop_idle_instances"]["threshold"] == {"idle_hours": 6.0}
    assert rows["scale_up_near_capacity"]["threshold"] == {"capacity_percent": 90.0}
    assert "gcp.compute.stop_instance" in rows["stop_idle_instances"]["operations"]
    text = _cli("remediation", "list")
    assert text.exit_code == 0 and "stop_idle_instances" in text.stdout and "idle_hours=6" in text.stdout


def test_enable_with_a_threshold_then_disable_keeps_the_rest_of_the_file(config: Path) -> None:
    done = _cli("-o", "json", "remediation", "enable", "stop-idle-instances", "--idle-hours", "3")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["enabled"] is True
    written = config.read_text()
    data = tomllib.loads(written)
    assert data["remediation"]["stop_idle_instances"] is True and data["remediation"]["idle_hours"] == 3.0
    # everything outside [remediation] is byte for byte what the user wrote, comments included
    head = CONFIG.partition("[remediation]")[0]
    assert written.startswith(head) and written.endswith('# who approves\n[personas]\nmanagers = ["mona"]\n')
    assert not list(config.parent.glob("*.tmp"))

    assert _cli("remediation", "disable", "stop_idle_instances").exit_code == 0
    data = tomllib.loads(config.read_text())
    assert data["remediation"]["stop_idle_instances"] is False and data["remediation"]["idle_hours"] == 3.0


def test_the_gate_sees_the_switch(config: Path) -> None:
    from escher.config import load_settings
    from escher.policy.remediation import load_remediation, pre_approved

    assert _cli("remediation", "enable", "stop_idle_instances", "--idle-hours", "2").exit_code == 0
    settings = load_remediation(load_settings().extensions)
    assert pre_approved(settings, "aws.ec2.stop_instances", {"idle_hours": 2.5}) == "stop_idle_instances"
    assert pre_approved(settings, "aws.ec2.stop_instances", {"idle_hours": 1}) is None


def test_an_executor_cannot_change_a_switch(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCHER_USER", "eve")
    result = _cli("remediation", "enable", "make_public_buckets_private")
    assert isinstance(result.exception, PolicyError) and result.exception.exit_code == 4
    assert "only managers" in result.exception.message
    assert config.read_text() == CONFIG


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enable", "nope"], "no remediation switch named 'nope'"),
        (["enable", "restart_failed_services", "--idle-hours", "3"], "threshold of stop_idle_instances"),
        (["enable", "stop_idle_instances", "--idle-hours", "0"], "greater than 0"),
        (["enable", "scale_up_near_capacity", "--capacity-percent", "120"], "less than or equal to 100"),
    ],
)
def test_bad_input_is_a_policy_error_and_writes_nothing(config: Path, args: list[str], message: str) -> None:
    result = _cli("remediation", *args)
    assert isinstance(result.exception, PolicyError) and message in result.exception.message
    assert result.exception.hint
    assert config.read_text() == CONFIG


def test_save_appends_the_section_when_the_file_has_none(escher_home: Path) -> None:
    paths = resolve_paths()
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text('[general]\ntimezone = "UTC" # keep me\n')
    save_remediation(paths, set_switch(RemediationSettings(), "restart_failed_services", True))
    text = paths.config_file.read_text()
    assert text.startswith('[general]\ntimezone = "UTC" # keep me\n\n[remediation]\n')
    assert tomllib.loads(text)["remediation"]["restart_failed_services"] is True


def test_save_without_a_config_file_creates_one(escher_home: Path) -> None:
    paths = resolve_paths()
    save_remediation(paths, RemediationSettings(encrypt_unencrypted_volumes=True))
    assert tomllib.loads(paths.config_file.read_text())["remediation"]["encrypt_unencrypted_volumes"] is True


def test_save_falls_back_to_a_full_rewrite_for_an_inline_table(escher_home: Path) -> None:
    paths = resolve_paths()
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(
        'remediation = { stop_idle_instances = true }\n[general]\ntimezone = "UTC"\n'
    )
    save_remediation(paths, RemediationSettings(stop_idle_instances=False))
    data = tomllib.loads(paths.config_file.read_text())
    assert data["general"] == {"timezone": "UTC"} and data["remediation"]["stop_idle_instances"] is False
