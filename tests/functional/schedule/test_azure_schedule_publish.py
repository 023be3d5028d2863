"""`escher schedule add|remove` while Azure is extended: no cloud call per schedule, the settings are published
to the extension's state storage (here a folder: the same object store the worker reads), and a publish that
fails undoes the local change, so the laptop and the extension never disagree about what runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.extend.schedules import CloudScheduleError

SCAN = ["schedule", "add", "0 6 * * 1", "scan azure", "--tz", "Europe/Paris"]


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["--output", "json", *args])


def local_ids() -> list[str]:
    return [s["id"] for s in json.loads(cli("schedule", "list").stdout)]


@pytest.fixture
def state(escher_home: Path) -> Path:
    """What `escher extend azure` leaves behind (thin-client mode, the stack's outputs); its state storage."""
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState, save_outputs

    folder = escher_home / "azure-state"
    folder.mkdir()
    paths = resolve_paths()
    save_outputs(paths, "azure", {"cloud": "azure", "state_url": str(folder), "worker": "escher-worker"})
    local = LocalState.load(paths)
    local.clouds["azure"] = {"mode": "thin-client"}
    local.save()
    return folder


def published_ids(folder: Path) -> set[str]:
    doc = json.loads((folder / "settings" / "effective.json").read_text())
    return {s["id"] for s in doc["content"]["schedules"]["schedules"]}


def break_outputs() -> None:
    """A stack whose outputs name no state storage: publishing fails (and says to run extend again)."""
    from escher.config import resolve_paths
    from escher.infra.driver import save_outputs

    save_outputs(resolve_paths(), "azure", {"cloud": "azure", "worker": "escher-worker"})


def test_add_publishes_the_schedule_and_says_it_runs_in_azure(state: Path) -> None:
    res = CliRunner().invoke(app, SCAN)
    assert res.exit_code == 0, res.output
    assert "Runs in Azure from the next minute" in res.stdout
    [added] = [i for i in local_ids() if i != "daily"]
    assert published_ids(state) == {added}

    res = cli("schedule", "remove", added)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"removed": added, "clouds": ["azure"]}
    assert published_ids(state) == set() and local_ids() == ["daily"]


def test_a_failed_publish_saves_nothing(state: Path) -> None:
    break_outputs()
    res = cli(*SCAN)
    assert res.exit_code != 0 and isinstance(res.exception, CloudScheduleError), res.output
    assert "could not publish the schedules to the Azure extension" in res.exception.message
    assert "escher extend azure" in (res.exception.hint or "")
    assert local_ids() == ["daily"]


def test_a_failed_publish_keeps_the_removed_schedule(state: Path) -> None:
    added = json.loads(cli(*SCAN).stdout)["id"]
    break_outputs()
    res = cli("schedule", "remove", added)
    assert res.exit_code != 0 and isinstance(res.exception, CloudScheduleError), res.output
    assert added in local_ids()  # as the extension still has it


def test_a_job_of_another_cloud_is_not_published_as_azures(state: Path) -> None:
    res = cli("schedule", "add", "0 6 * * 1", "scan aws", "--tz", "UTC")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["runs_in"] == []
