"""'escher extend status' (and 'escher status', the same function): nothing deployed; an AWS extension on moto
whose worker ran from its unpacked bundle (the daily job, a public bucket held for approval): when it ran, what it
did that the laptop has not synced, its settings in sync with the laptop's, then differing after a hand edit;
and a state storage that cannot be reached (said, exit 0, the local part still shown)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.emulators import MotoEmulator
from tests.functional.deployed.harness import Unpacked, run_worker
from tests.functional.deployed.test_aws_deployed import REGION, Deployment, bundle, public_bucket

__all__ = ["bundle"]  # the module-scoped bundle fixture of test_aws_deployed (cached by content hash)


def _status(*args: str) -> Any:
    result = CliRunner().invoke(app, ["-o", "json", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def _text(*args: str) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    return " ".join(result.stdout.split())


def test_nothing_deployed_says_how_to_extend(escher_home: Path) -> None:
    for command in (["extend", "status"], ["status"]):
        assert "Nothing is deployed. Run escher extend aws|azure|gcp." in _text(*command)
    data = _status("extend", "status")
    assert (
        data["deployed"] == [] and data["message"] == "Nothing is deployed. Run escher extend aws|azure|gcp."
    )
    assert data == _status("status")


@pytest.fixture
def deployed(
    aws_env: MotoEmulator,
    escher_home: Path,
    bundle: Unpacked,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Deployment:
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    deployment = Deployment(aws_env, escher_home, bundle)
    from escher.infra.driver import LocalState

    local = LocalState.load(deployment.paths)
    local.clouds["aws"] = {"mode": "thin-client", "region": REGION, "deployed_at": "2026-12-07T08:00:00Z"}
    local.save()
    deployment.cli("extend", "sync-settings")
    return deployment


def test_a_deployed_worker_what_it_did_and_whether_it_runs_the_laptops_settings(
    deployed: Deployment, tmp_path: Path
) -> None:
    from escher.demo.events import bucket_made_public

    # GIVEN the worker ran while the laptop was closed: the daily job, then a bucket made public (held)
    public_bucket(deployed.s3, "shop-exports")
    deployed.moto.set_cost_and_usage([])
    event = bucket_made_public("status-evt-1", "shop-exports", region=REGION)
    run = run_worker(deployed.bundle_run, deployed.platform_env(), [deployed.schedule_input, event], tmp_path)
    daily, held = run.results
    assert daily["ok"]["job"] == "daily_scan" and held["ok"]["outcome"] == "needs_approval", run.results

    # WHEN the laptop asks for the status
    data = _status("extend", "status")
    aws = data["clouds"]["aws"]
    # THEN what is deployed, where and since when
    assert data["deployed"] == ["aws"] and aws["region"] == REGION and aws["since"] == "2026-12-07T08:00:00Z"
    assert aws["state_url"] == deployed.deployed.outputs["state_url"] and aws["storage"]["reachable"] is True
    # when the worker last ran: the daily job's own record, and the scan and morning report it wrote
    day = daily["ok"]["day"]
    assert aws["worker"]["last_daily_job"] == {
        "day": day,
        "started_at": daily["ok"]["started_at"],
        "failed": [],
    }
    assert aws["worker"]["last_scan"] == deployed.keys("reports/scan/")[-1][len("reports/scan/") : -5]
    assert aws["worker"]["last_report"].startswith(day)
    # what it did that this laptop has not synced: the scan, the report, the alert, the request, the audit
    done = aws["since_last_sync"]
    assert (done["scans"], done["reports"], done["alerts"], done["approvals"]) == (1, 1, 1, 1), done
    assert done["audit"] >= 1 and done["remediations"] == 0, done
    # the settings it runs are the laptop's
    settings = aws["settings"]
    assert settings["state"] == "in sync" and settings["version"] == 1
    assert settings["published_sha256"] == settings["laptop_sha256"]
    text = _text("extend", "status")
    assert "worker last ran: " + daily["ok"]["started_at"] in text and "settings: in sync (version 1)" in text
    assert "since your last sync: 1 scans, 1 reports, 1 alerts, 1 approvals" in text
    assert _status("status") == data  # the top-level command is the same function

    # WHEN the laptop syncs, THEN nothing is left to bring home
    CliRunner().invoke(app, ["sync"])
    done = _status("extend", "status")["clouds"]["aws"]["since_last_sync"]
    assert {k: done[k] for k in ("scans", "reports", "alerts", "approvals", "audit")} == dict.fromkeys(
        ("scans", "reports", "alerts", "approvals", "audit"), 0
    ), done

    # WHEN a laptop setting changes outside the CLI (an edit of the file: nothing published it)
    with deployed.paths.config_file.open("a", encoding="utf-8") as fh:
        fh.write("\n[remediation]\nrestart_failed_services = true\n")
    settings = _status("extend", "status")["clouds"]["aws"]["settings"]
    # THEN the status says they differ and what to run; the status itself published nothing
    assert settings["state"] == "differs" and settings["detail"] == "run escher extend sync-settings"
    assert settings["published_sha256"] != settings["laptop_sha256"] and settings["version"] == 1
    shown = _text("status")
    assert "settings: differs (version 1): run escher extend sync-settings" in shown, shown
    assert deployed.read("settings/effective.json")["version"] == 1
    # and once published they are in sync again
    deployed.cli("extend", "sync-settings")
    settings = _status("extend", "status")["clouds"]["aws"]["settings"]
    assert (settings["state"], settings["version"]) == ("in sync", 2)


def test_a_storage_that_cannot_be_reached_is_said_and_the_local_part_shown(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = CliRunner().invoke(app, ["extend", "status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    text = " ".join(result.stdout.split())
    assert "the state storage was not reached: S3 list of s3://escher-state-mock/ failed" in text
    assert "Traceback" not in result.output
    assert "│ aws │ thin-client │ us-east-1 │ 2026-12-07T08:00:00Z │" in text  # the local record still shown
    assert "settings: in sync (version 1)" in text and "from the last publish record" in text
    data = _status("status")
    aws = data["clouds"]["aws"]
    assert aws["storage"]["reachable"] is False and aws["storage"]["error"]
    assert aws["worker"] is None and aws["since_last_sync"] is None
    # the settings: from what this laptop last published, said so
    assert aws["settings"]["state"] == "in sync" and "last publish record" in aws["settings"]["source"]


def test_a_local_store_that_cannot_be_opened_leaves_the_counts_unknown(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ESCHER_DATABASE_URL", "postgresql://escher@127.0.0.1:9/escher"
    )  # nothing listens there
    aws = _status("extend", "status")["clouds"]["aws"]
    assert aws["storage"]["reachable"] is True and aws["since_last_sync"] is None
    assert aws["settings"]["state"] == "in sync" and aws["worker"]["last_daily_job"] is None
    assert "since your last sync: unknown (the local store could not be opened)" in _text("extend", "status")
