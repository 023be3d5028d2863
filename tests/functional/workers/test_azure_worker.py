"""The Azure worker end to end: Event Grid event -> the v2 function -> ARM replayed at the azure-core transport,
state and dead letters on azurite; the timer and the action-group HTTP trigger called as the runtime would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest
from azure.storage.blob import BlobServiceClient

from escher.emulators import AzuriteEmulator
from escher.ops import CloudContext
from escher.pipeline import runtime
from tests.functional.ops.replay import AzureReplayTransport, Exchange, FakeAzureCredential, Replay
from tests.harness.azure_functions import indexed_functions
from tests.unit.pipeline.fakes import SAMPLES

SAMPLE = json.loads((SAMPLES / "azure" / "resource_write_storage_account.json").read_text())
ACCOUNT = SAMPLE["subject"]


# the app indexed once per process, as the Functions host does at start-up (a second get_functions() fails)
FUNCTIONS = {name: f.get_user_function() for name, f in indexed_functions().items()}


def function(name: str) -> Any:
    return FUNCTIONS[name]


def account_body(public: bool) -> dict[str, Any]:
    return {
        "name": "custdata",
        "id": ACCOUNT,
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "properties": {
            "allowBlobPublicAccess": public,
            "supportsHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "provisioningState": "Succeeded",
        },
    }


@pytest.fixture
def blob(azure_env: AzuriteEmulator, worker_config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    service = BlobServiceClient.from_connection_string(azure_env.connection_string)
    for name in ("escher-state", "escher-dead-letters"):
        service.create_container(name)
    monkeypatch.setenv("ESCHER_STATE_URL", "azblob://escher-state")
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", "azblob://escher-dead-letters/letters")
    yield service
    for name in ("escher-state", "escher-dead-letters"):
        service.delete_container(name)


def grid_event(payload: dict[str, Any]) -> func.EventGridEvent:
    from datetime import datetime

    return func.EventGridEvent(
        id=payload["id"],
        data=payload["data"],
        topic=payload["topic"],
        subject=payload["subject"],
        event_type=payload["eventType"],
        event_time=datetime.fromisoformat(payload["eventTime"]),
        data_version=payload["dataVersion"],
    )


def test_storage_account_write_is_fixed_through_arm_and_audited_on_azurite(blob: Any) -> None:
    replay = Replay(
        # one read before the fix: the plan's, made by the same engine call, stands for execute's re-read
        Exchange("GET", ACCOUNT, account_body(True)),
        Exchange("PATCH", ACCOUNT, account_body(False)),
        Exchange("GET", ACCOUNT, account_body(False)),  # verify
    )
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options={"polling_interval": 0, "retry_total": 0},
    )
    with runtime.override("azure", cloud=ctx):
        function("on_event_grid")(grid_event(SAMPLE))
        function("on_event_grid")(grid_event(SAMPLE))  # Event Grid delivers at least once
    replay.done()  # exactly one PATCH: the second delivery did nothing
    assert replay.bodies("PATCH") == [{"properties": {"allowBlobPublicAccess": False}}]
    state = blob.get_container_client("escher-state")
    [audit] = [n for n in state.list_blob_names() if n.startswith("audit/")]
    record = json.loads(state.download_blob(audit).readall())["record"]
    assert record["action"] == "azure.storage.disallow_blob_public_access"
    assert record["outcome"] == "verified" and record["target"] == ACCOUNT
    assert [n for n in state.list_blob_names() if n.startswith("markers/azure/")]


def test_unreadable_event_grid_event_is_parked_in_the_dead_letter_container(blob: Any) -> None:
    bad = func.EventGridEvent(
        id="eg-bad",
        data={"nothing": 1},
        topic="",
        subject="",
        event_type="",
        event_time=None,
        data_version="1",
    )
    function("on_event_grid")(bad)
    letters = blob.get_container_client("escher-dead-letters")
    [name] = list(letters.list_blob_names())
    assert name.startswith("letters/")
    letter = json.loads(letters.download_blob(name).readall())
    assert letter["source"] == "eventgrid" and letter["event_id"] == "eg-bad" and letter["reason"]


def test_action_group_webhook_answers_200_and_handles_the_alert(blob: Any) -> None:
    sample = json.loads((SAMPLES / "azure" / "metric_alert_sql_storage.json").read_text())
    req = func.HttpRequest(
        method="POST", url="/api/action-group", body=json.dumps(sample).encode(), headers={}
    )
    response = function("action_group")(req)
    assert response.status_code == 200
    body = json.loads(response.get_body())
    # storage_percent maps to azure.sql.increase_max_size; the worker's config leaves scale-up off: a request
    assert body["outcome"] == "needs_approval" and body["alert_id"]


def test_action_group_garbage_is_parked_not_dropped(blob: Any) -> None:
    req = func.HttpRequest(method="POST", url="/api/action-group", body=b"not json", headers={})
    response = function("action_group")(req)
    assert response.status_code == 200
    assert json.loads(response.get_body())["outcome"] == "dead_lettered"
    assert len(list(blob.get_container_client("escher-dead-letters").list_blob_names())) == 1


def test_timer_runs_the_morning_digest_job_by_name(blob: Any) -> None:
    from escher.workers.azure import handlers

    result = handlers.on_timer("morning_digest")
    assert result["job"] == "morning_digest" and result["alerts"] == 0


def test_timer_trigger_runs_the_daily_scan_and_reports_what_is_missing(blob: Any) -> None:
    # the registered function, called as the host calls it; without a subscription the scan cannot run, and the
    # host must see a failure that says why (it retries on the next tick), not a silent success
    from escher.scans.errors import CloudAccessError

    with pytest.raises(CloudAccessError, match="no Azure subscription is configured"):
        function("daily_scan")(TimerRequest(past_due=True))


def test_the_timer_schedule_is_the_app_setting_the_infra_sets() -> None:
    # the host resolves %NAME% from the app settings; escher.infra.azure sets ESCHER_DAILY_SCAN_SCHEDULE
    timer = indexed_functions()["daily_scan"]
    [binding] = [b for b in timer.get_bindings() if b.type == "timerTrigger"]
    assert binding.schedule == "%ESCHER_DAILY_SCAN_SCHEDULE%"


def _paris_now_plus(hours: int) -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(hours=hours)).strftime("%H:%M")


def test_a_timer_firing_at_the_local_scan_time_runs_the_scan(
    blob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.scans.errors import CloudAccessError

    monkeypatch.setenv("ESCHER_TIMEZONE", "Europe/Paris")
    monkeypatch.setenv("ESCHER_DAILY_SCAN_AT", _paris_now_plus(0))
    # the scan ran: without a subscription it fails, and says why
    with pytest.raises(CloudAccessError, match="no Azure subscription is configured"):
        function("daily_scan")(TimerRequest(past_due=False))


def test_a_timer_firing_at_another_local_time_is_skipped(
    blob: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ESCHER_TIMEZONE", "Europe/Paris")
    monkeypatch.setenv("ESCHER_DAILY_SCAN_AT", _paris_now_plus(1))  # the other DST offset's firing
    with caplog.at_level("INFO", logger="escher.workers.azure"):
        function("daily_scan")(TimerRequest(past_due=False))  # no scan: no CloudAccessError
    assert any("daily scan skipped" in r.getMessage() for r in caplog.records)
    assert not [
        n for n in blob.get_container_client("escher-state").list_blob_names() if n.startswith("reports/")
    ]
