"""User schedules while Azure is extended: `escher schedule add|remove` publish the settings (no cloud object per
schedule), and the worker's every-minute timer, run from the unpacked package in a clean interpreter as the
Functions host runs it, with the app settings the Pulumi program declares and azurite for the storage, runs the
due ones: each once when three wakes, two of them at once, come in the same minute, never a removed one, and
only within the policy.

ARM has no emulator: an operation's read of its target fails at ARM (no identity), after the gate decided; the
gate's decision and the one attempt are what the audit objects show (the operations themselves are proven with
ARM replayed in tests/functional/workers)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.emulators import AzuriteEmulator
from tests.functional.deployed.harness import Unpacked, unpacked_bundle

pytest.importorskip("pulumi")

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
ACCOUNTS = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/shop/providers/Microsoft.Storage/storageAccounts"
VMS = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/shop/providers/Microsoft.Compute/virtualMachines"

# the function app imported and indexed from the package as the host does, each timer fired by name
BOOT = r"""
import json, sys, sysconfig
call = json.load(open(sys.argv[1]))
sys.path[:0] = call["paths"]
import function_app
from azure.functions.timer import TimerRequest

functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
triggers = {name: f.get_trigger().get_dict_repr() for name, f in functions.items()}
results = []
for name in call["timers"]:
    try:
        results.append({"ok": functions[name].get_user_function()(TimerRequest(past_due=False))})
    except Exception as exc:
        results.append({"error": type(exc).__name__, "message": str(exc)[:2000]})
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not module.__file__.startswith(tuple(call["paths"]))
    and not module.__file__.startswith(stdlib)
)
json.dump({"results": results, "triggers": triggers, "outside": outside}, open(sys.argv[2], "w"), default=str)
"""


def start(bundle: Unpacked, env: dict[str, str], timers: list[str], tmp: Path, name: str) -> Any:
    """A host process that fires ``timers`` in order; :func:`finish` waits for it and reads what it did."""
    call_file, out_file = tmp / f"{name}.json", tmp / f"{name}-out.json"
    call_file.write_text(json.dumps({"paths": [str(p) for p in bundle.paths], "timers": timers}))
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", BOOT, str(call_file), str(out_file)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp,
    )  # fmt: skip
    return proc, out_file


def finish(started: Any) -> dict[str, Any]:
    proc, out_file = started
    _, stderr = proc.communicate(timeout=300)
    assert out_file.exists(), f"the worker process failed ({proc.returncode}):\n{stderr[-4000:]}"
    out: dict[str, Any] = json.loads(out_file.read_text())
    return out


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return unpacked_bundle("azure", tmp_path_factory.mktemp("azure-bundle"))


def cli(*args: str) -> Any:
    from escher.cli.main import app

    result = CliRunner().invoke(app, ["--output", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if args[0] == "schedule" else None


def coming_minute() -> datetime:
    """A minute that starts after the schedules are made (they fire from the minute after they were made)."""
    now = datetime.now(UTC)
    return now.replace(second=0, microsecond=0) + timedelta(minutes=2 if now.second > 40 else 1)


def sleep_into(minute: datetime) -> None:
    time.sleep(max(0.0, (minute - datetime.now(UTC)).total_seconds()) + 1)


def test_the_timer_runs_each_due_schedule_once_never_a_removed_one_and_within_the_policy(
    azure_env: AzuriteEmulator, escher_home: Path, bundle: Unpacked, tmp_path: Path
) -> None:
    from escher.config import resolve_paths
    from escher.infra.driver import load_outputs
    from tests.functional.deployed.test_azure_deployed import Deployment

    # GIVEN Azure extended (the program's app settings and outputs under the mocks; azurite for the storage)
    deployed = Deployment(azure_env, bundle)
    outputs = load_outputs(resolve_paths(), "azure")
    assert outputs["user_schedules_function"] == "user_schedules"
    assert outputs["audit_url"] == deployed.env["ESCHER_AUDIT_URL"]
    cli("remediation", "enable", "make_public_buckets_private")
    cli("remediation", "enable", "restart_failed_services")

    # WHEN three schedules are added on the laptop for the coming minute (only: a slow wake cannot reach a
    # next slot): one is removed again, and the switch of another is turned off (its schedule stays)
    minute = coming_minute()
    cron, utc = f"{minute.minute} {minute.hour} * * *", ("--tz", "UTC")
    fix = cli(
        "schedule", "add", cron, f"azure.storage.disallow_blob_public_access target:{ACCOUNTS}/shop", *utc
    )
    gone = cli(
        "schedule", "add", cron, f"azure.storage.disallow_blob_public_access target:{ACCOUNTS}/old", *utc
    )
    held = cli("schedule", "add", cron, f"azure.compute.restart_vm target:{VMS}/web-1", *utc)
    assert fix["runs_in"] == gone["runs_in"] == held["runs_in"] == ["azure"]
    assert cli("schedule", "remove", gone["id"]) == {"removed": gone["id"], "clouds": ["azure"]}
    cli("remediation", "disable", "restart_failed_services")
    published = deployed.read("settings/effective.json")
    assert {s["id"] for s in published["content"]["schedules"]["schedules"]} == {fix["id"], held["id"]}

    # AND in that minute the timer wakes twice on one instance while another instance wakes at the same time
    # (the worker's role may run both operations)
    sleep_into(minute)
    env = deployed.platform_env()
    env["ESCHER_OPERATIONS"] += ",azure.compute.restart_vm"
    one = start(deployed.bundle, env, ["user_schedules", "user_schedules"], tmp_path, "one")
    other = start(deployed.bundle, env, ["user_schedules"], tmp_path, "other")
    out, out_other = finish(one), finish(other)

    # THEN the timer is the every-minute one, every wake returned, and nothing came from outside the package
    assert out["triggers"]["user_schedules"]["schedule"] == "0 * * * * *", out["triggers"]
    assert out["results"] == [{"ok": None}, {"ok": None}], out["results"]
    assert out_other["results"] == [{"ok": None}], out_other["results"]
    assert out["outside"] == out_other["outside"] == []
    # AND each due schedule ran once: one run marker (taken by one wake) with its outcome
    runs = {key: deployed.read(key) for key in deployed.keys("events-log/schedule-runs/")}
    assert all(key.endswith(f"/{minute:%Y-%m-%dT%H%M}Z.json") for key in runs), sorted(runs)
    by_schedule = {body["schedule_id"]: body for body in runs.values()}
    assert len(runs) == len(by_schedule) == 2, sorted(runs)
    assert set(by_schedule) == {fix["id"], held["id"]}  # never the removed one
    ran = by_schedule[fix["id"]]["result"]
    assert ran["operation"] == "azure.storage.disallow_blob_public_access" and ran["counts"] == {"failed": 1}
    refused = by_schedule[held["id"]]["result"]
    assert not refused["ok"] and "not pre-approved" in refused["refused"], refused
    # AND the audit objects hold one attempt of the pre-approved fix, the gate's refusal of the restart,
    # and nothing about the removed schedule
    records = audit_records(deployed)
    attempts = [r for r in records if r["action"] == "azure.storage.disallow_blob_public_access"]
    assert [(r["target"], r["outcome"]) for r in attempts] == [(f"{ACCOUNTS}/shop", "failed")]
    refusals = [r for r in records if r["action"] == "policy.refuse"]
    assert [r["details"]["operation"] for r in refusals] == ["azure.compute.restart_vm"]
    restarts = [r for r in records if r["action"] == "azure.compute.restart_vm"]
    assert [r["outcome"] for r in restarts] == ["refused"] and not restarts[0]["details"].get(
        "authorized_via"
    )
    assert not [r for r in records if f"{ACCOUNTS}/old" in json.dumps(r)]


def audit_records(deployed: Any) -> list[dict[str, Any]]:
    container = deployed.service.get_container_client(deployed.container(deployed.env["ESCHER_AUDIT_URL"]))
    out = []
    for name in container.list_blob_names():
        body = json.loads(container.download_blob(name).readall())
        out.append(body.get("record", body))
    return out
