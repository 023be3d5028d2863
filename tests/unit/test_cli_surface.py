"""One CLI surface (issue 17, item 1): the same ``-o/--output`` after any command, named placeholders, help in
sections, shell completion, account flags, and one exit code for an id that names nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.cli.main import app

ESCHER = str(Path(sys.executable).parent / "escher")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCHER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        timeout=120,
        check=False,
    )


def _leaves() -> Iterator[tuple[str, ...]]:
    import typer

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        subs = getattr(command, "commands", None)
        if subs is None or getattr(command, "invoke_without_command", False):
            yield path
        for name, sub in (subs or {}).items():
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


LEAVES = [p for p in _leaves() if p]
# typer's own type names where a placeholder belongs (what the issue saw: `--cloud <list[str]>`)
_TYPE_NAMES = re.compile(r"<(list\[|str>|int|float|bool|path|file|datetime|tuple)")


def test_the_tree_is_walked() -> None:
    assert {("doctor",), ("scan",), ("ops", "list"), ("alerts",), ("findings", "show")} <= set(LEAVES)


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_takes_output_and_names_its_placeholders(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert re.search(r"-o, --output FORMAT", result.output), result.output
    assert not _TYPE_NAMES.search(result.output), result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_the_root_help_is_in_sections_and_nothing_is_cut() -> None:
    out = run("--help").stdout
    for section in ("Daily use:", "Operations:", "Events and alerts:", "Extend:", "Administration:"):
        assert section in out
    assert out.index("Daily use:") < out.index("  scan ") < out.index("Operations:") < out.index("  ops ")
    # summaries wrap instead of ending in "..." (the usage line has click's own)
    assert "..." not in out.split("\n", 1)[1]
    for flag in ("--profile PROFILE", "--subscription ID", "--project PROJECT", "-o, --output FORMAT"):
        assert flag in out


@pytest.mark.parametrize(
    "args",
    [
        ["doctor", "--no-store"],
        ["ops", "list"],
        ["ops", "show", "aws.ec2.stop_instances"],
        ["remediation", "list"],
        ["scan", "--list-checks"],
        ["schedule", "list"],
        ["templates", "list"],
        ["completion", "bash"],
    ],
    ids=" ".join,
)
def test_output_json_works_before_and_after_the_command(escher_home: Path, args: list[str]) -> None:
    before = run("-o", "json", *args)
    after = run(*args, "--output", "json")
    assert before.returncode == after.returncode == 0, (before.stderr, after.stderr)
    assert json.loads(before.stdout) == json.loads(after.stdout)


def test_init_answers_json_after_the_command(escher_home: Path) -> None:
    assert json.loads(run("init", "-o", "json").stdout)["written"] is True
    assert json.loads(run("-o", "json", "init").stdout)["written"] is False


def test_report_honours_output_json(escher_home: Path) -> None:
    # no scan yet: the error itself is JSON, before or after the command
    for args in (["-o", "json", "report"], ["report", "-o", "json"]):
        out = run(*args)
        assert json.loads(out.stdout)["error"] == "NoScanError", out


def test_scan_speaks_the_format_vocabulary_and_keeps_the_old_spelling(escher_home: Path) -> None:
    help_text = run("scan", "--help").stdout
    assert "-f, --format FORMAT" in help_text and "ocsf" not in help_text.split("--output")[1].split("\n")[0]
    bad = run("scan", "--format", "html")
    assert bad.returncode == 2 and "--format" in bad.stderr
    assert run("report", "--help").stdout.count("-f, --format") == 1


def test_c_is_cloud_everywhere() -> None:
    for path in LEAVES:
        result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
        for line in result.output.splitlines():
            if re.match(r"\s+-c, ", line):
                assert line.strip().startswith("-c, --cloud"), (path, line)


@pytest.mark.parametrize(
    "args",
    [
        ["approvals", "approve", "A-nope"],
        ["approvals", "run", "A-nope"],
        ["ops", "show", "aws.ec2.nope"],
        ["ops", "plan", "aws.ec2.nope"],
        ["schedule", "remove", "S-nope"],
        ["alerts", "ack", "nope"],
        ["templates", "run", "nope"],
        ["remediation", "enable", "nope"],
        ["report"],  # no scan stored yet: nothing the report could name
    ],
    ids=" ".join,
)
def test_an_id_that_names_nothing_exits_2(escher_home: Path, args: list[str]) -> None:
    out = run(*args)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Error:" in out.stderr and "What to do:" in out.stderr and "Traceback" not in out.stderr
    as_json = run("-o", "json", *args)
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["hint"]


def test_a_missing_backup_bucket_is_a_config_error(escher_home: Path) -> None:
    out = run("backup", "list", env={"ESCHER_STATE_URL": ""})
    assert out.returncode == 2 and "no backup bucket is configured" in out.stderr


def test_completion_prints_a_script_that_completes(escher_home: Path) -> None:
    script = run("completion", "bash").stdout
    assert "_ESCHER_COMPLETE=complete_bash" in script and "complete -o default -F" in script
    env = {"_ESCHER_COMPLETE": "complete_bash", "COMP_WORDS": "escher des", "COMP_CWORD": "1"}
    assert run(env=env).stdout.split() == ["destroy"]
    env = {"_ESCHER_COMPLETE": "complete_bash", "COMP_WORDS": "escher destroy ", "COMP_CWORD": "2"}
    assert run(env=env).stdout.split() == ["aws", "azure", "gcp"]
    assert run("completion", "tcsh").returncode == 2


def test_account_flags_override_the_config_for_one_run(escher_home: Path) -> None:
    (escher_home / "config").mkdir()
    (escher_home / "config" / "config.toml").write_text(
        '[gcp]\nproject = "from-config"\n[azure]\nsubscription_id = "sub-config"\n'
    )
    checks = json.loads(
        run(
            "--project", "from-flag", "--subscription", "sub-flag", "-o", "json", "doctor", "--no-store"
        ).stdout
    )["checks"]
    by_name = {(c["area"], c["name"]): c for c in checks}
    assert "from-flag" in by_name[("gcp", "project")]["detail"]
    assert "sub-flag" in by_name[("azure", "subscription")]["detail"]
    plain = json.loads(run("-o", "json", "doctor", "--no-store").stdout)["checks"]
    assert any("from-config" in c["detail"] for c in plain)


def test_doctor_says_gcp_and_azure_are_not_ready_without_a_project_or_subscription(escher_home: Path) -> None:
    # before: "nothing required is broken", then `scan --cloud gcp` failed for lack of a project
    checks = json.loads(run("-o", "json", "doctor", "--no-store").stdout)["checks"]
    by_name = {(c["area"], c["name"]): c for c in checks}
    assert (
        by_name[("gcp", "project")]["status"] == "warn" and "--project" in by_name[("gcp", "project")]["hint"]
    )
    assert by_name[("azure", "subscription")]["status"] == "warn"
    text = run("doctor", "--no-store").stdout
    assert "not ready (marked !)" in text and "Nothing required is broken." not in text
    off = {"ESCHER_GCP__ENABLED": "false", "ESCHER_AZURE__ENABLED": "false"}
    names = {
        c["name"] for c in json.loads(run("-o", "json", "doctor", "--no-store", env=off).stdout)["checks"]
    }
    assert "project" not in names and "subscription" not in names
