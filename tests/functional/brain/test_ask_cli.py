"""``escher ask`` end to end on the local planner: typed JSON, nothing executed without a terminal or --yes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from escher.cli.main import app
from tests.functional.brain.test_privacy_e2e import planted_estate


def test_ask_json_gives_operation_ids_and_executes_nothing_without_a_terminal(escher_home: Path) -> None:
    planted_estate(escher_home / "data")
    result = CliRunner().invoke(app, ["-o", "json", "ask", "Stop all dev VMs"])
    data = json.loads(result.stdout)
    assert data["source"] == "local" and data["response"]["kind"] == "execution"
    assert data["operation_ids"] == ["aws.ec2.stop_instances"]
    assert {e["status"] for e in data["execution"]} == {"not_executed"}
    assert result.exit_code == 1
    chat = (escher_home / "data" / "assist" / "chat.jsonl").read_text()
    assert "Stop all dev VMs" in chat  # the exchange is kept, on the client


def test_dry_run_prints_the_plan_and_runs_nothing(escher_home: Path) -> None:
    planted_estate(escher_home / "data")
    result = CliRunner().invoke(app, ["ask", "Stop all dev VMs", "--dry-run"])
    assert result.exit_code == 0
    assert "aws.ec2.stop_instances" in result.stdout and "nothing was executed" in result.stdout
    assert "local planner" in result.stdout
