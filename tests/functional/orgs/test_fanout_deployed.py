"""The organization scan on Azure and GCP in the deployed shape (tests/functional/deployed/harness.py): the built
bundle run in a clean interpreter with exactly the settings the Pulumi program declares, the queue on its
emulator (azurite's queue service, the Pub/Sub emulator). It proves that the bundle carries the queue SDKs and
the entry points, and that the names the program declares meet: the 02:00 job's messages reach the queue the
trigger reads, each account's part lands in the state storage, the report joins them, and a message that
cannot be read is handed back on each delivery.

Without ARM or Resource Manager here, no account can be entered: each is named in the joined report with why
(the estates, read by replay, are tests/functional/orgs/test_fanout_azure.py and test_fanout_gcp.py)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from escher.emulators import AzuriteEmulator, GcsStorageEmulator, PubSubEmulator
from tests.functional.deployed.harness import Unpacked, run_worker, unpacked_bundle

pytest.importorskip("pulumi")

SUBS = ["00000000-0000-0000-0000-0000000000aa", "00000000-0000-0000-0000-0000000000bb"]
PROJECTS = ["acme-prod", "acme-web"]

# the harness's boot, for the Azure queue trigger: the package's function_app imported and indexed as the host
# does, each payload [function name, body, dequeue count] handed to that function as the host's binding would
BOOT = r"""
import json, sys, sysconfig
call = json.load(open(sys.argv[1]))
sys.path[:0] = call["paths"]
import function_app
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

functions = {f.get_function_name(): f.get_user_function() for f in function_app.app.get_functions()}
results = []
for name, body, count in call["payloads"]:
    try:
        if name == "daily_scan":
            results.append({"ok": functions[name](TimerRequest(past_due=False))})
        else:
            message = QueueMessage(id="m", body=body.encode(), dequeue_count=count)
            results.append({"ok": functions[name](message)})
    except Exception as exc:
        results.append({"error": type(exc).__name__, "message": str(exc)[:2000]})
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted(n for n, m in list(sys.modules.items()) if getattr(m, "__file__", None)
                 and not m.__file__.startswith(tuple(call["paths"])) and not m.__file__.startswith(stdlib))
json.dump({"results": results, "outside": outside}, open(sys.argv[2], "w"))
"""


def _run_azure(bundle: Unpacked, env: dict[str, str], payloads: list[Any], tmp: Path) -> list[dict[str, Any]]:
    call, out = tmp / "call.json", tmp / "out.json"
    call.write_text(json.dumps({"paths": [str(p) for p in bundle.paths], "payloads": payloads}))
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", BOOT, str(call), str(out)],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp, check=False,
    )  # fmt: skip
    assert out.exists(), f"the worker process failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    got = json.loads(out.read_text())
    assert got["outside"] == [], got["outside"]
    results: list[dict[str, Any]] = got["results"]
    return results


# -- Azure ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def azure_bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return unpacked_bundle("azure", tmp_path_factory.mktemp("azure-bundle"))


def test_azure_the_bundle_queues_each_subscription_and_its_trigger_writes_each_part(
    azure_env: AzuriteEmulator, escher_home: Path, azure_bundle: Unpacked, tmp_path: Path
) -> None:
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy

    from escher.clouds.azure.fanout import POISON_QUEUE, SCAN_QUEUE
    from escher.emulators.azure import ACCOUNT_KEY, ACCOUNT_NAME, AzuriteEmulator
    from tests.functional.deployed.test_azure_deployed import Deployment

    deployment = Deployment(azure_env, azure_bundle)
    config = deployment.paths.config_file
    config.write_text(
        config.read_text().replace("[azure]\n", f"[azure]\nsubscriptions = {json.dumps(SUBS)}\n", 1)
    )
    deployment.cli("extend", "sync-settings")
    with AzuriteEmulator("queue") as queues:
        connection = (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={azure_env.blob_endpoint};QueueEndpoint={queues.endpoint};"
        )
        env = {**deployment.platform_env(), "AZURE_STORAGE_CONNECTION_STRING": connection}
        env.pop("ESCHER_DAILY_SCAN_AT", None)  # this firing is the scan's
        queue = QueueClient.from_connection_string(
            connection, SCAN_QUEUE, message_decode_policy=TextBase64DecodePolicy()
        )
        queue.create_queue()
        # WHEN the timer fires in the deployed package
        [daily] = _run_azure(azure_bundle, env, [["daily_scan", "", 0]], tmp_path)
        assert daily == {"ok": None}, daily
        [day] = deployment.keys("reports/daily/")
        scan = deployment.read(day)["parts"]["scan"]
        assert scan["ok"] and scan["queued"] == 2 and scan["cloud"] == "azure", scan
        # THEN the messages are on the queue the program names, base64 as the host reads them
        assert env["ESCHER_SCAN_QUEUE_URL"].startswith(f"azqueue://{SCAN_QUEUE}?account_url=https://")
        messages = list(queue.receive_messages(messages_per_page=32))
        assert sorted(json.loads(m.content)["account"] for m in messages) == SUBS
        # WHEN the host hands each to the package's queue trigger, and a poison message too
        payloads = [["scan_account", m.content, 1] for m in messages]
        payloads.append(
            ["scan_account", json.dumps({"kind": "escher.scan_account", "run": "x", "account": "no"}), 1]
        )
        results = _run_azure(azure_bundle, env, payloads, tmp_path)
    assert results[:2] == [{"ok": None}, {"ok": None}], results
    assert results[2]["error"] == "PermanentEventError", results[2]  # the host redelivers, then poisons it
    assert f"{SCAN_QUEUE}-poison" == POISON_QUEUE
    run = scan["org_run"]
    report = deployment.read(f"reports/org/{run}.json")
    assert [s["account"] for s in report["accounts"]] == SUBS and report["complete"] is True
    # no identity here: each subscription is named with why, never counted as scanned with nothing in it
    assert report["not_scanned"] == SUBS
    assert all("identity" in s["error"] for s in report["accounts"]), report


# -- GCP -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gcp_bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return unpacked_bundle("gcp", tmp_path_factory.mktemp("gcp-bundle"))


def test_gcp_the_bundle_publishes_each_project_and_its_scan_target_writes_each_part(
    gcs_emulator: GcsStorageEmulator,
    pubsub_env: PubSubEmulator,
    escher_home: Path,
    gcp_bundle: Unpacked,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from google.cloud import pubsub_v1

    from tests.functional.deployed.test_gcp_deployed import PROJECT, Deployment

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint_url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    deployment = Deployment(gcs_emulator, gcp_bundle)
    config = deployment.paths.config_file
    config.write_text(config.read_text().replace("[gcp]\n", f"[gcp]\nprojects = {json.dumps(PROJECTS)}\n", 1))
    deployment.cli("extend", "sync-settings")
    topic = deployment.env["ESCHER_SCAN_QUEUE_URL"].removeprefix("pubsub://")
    subscription = f"projects/{PROJECT}/subscriptions/scan-to-scanner-{tmp_path.name}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    env = {**deployment.platform_env(), **pubsub_env.env()}
    json_headers = {"Content-Type": "application/json"}
    try:
        # WHEN Cloud Scheduler's body reaches the deployed worker
        daily = run_worker(
            gcp_bundle, env, [["on_schedule", "http", deployment.schedule_body, json_headers]], tmp_path
        )
        assert daily.outside == [], daily.outside
        [answer] = daily.results
        assert answer["ok"]["status"] == 200, answer["ok"]["body"][-3000:]
        scan = json.loads(answer["ok"]["body"])["parts"]["scan"]
        assert scan["ok"] and scan["queued"] == 2 and scan["cloud"] == "gcp", scan
        # THEN one message per project is on the topic the program names
        got = subscriber.pull(request={"subscription": subscription, "max_messages": 10}, timeout=10)
        bodies = [m.message.data.decode() for m in got.received_messages]
        assert sorted(json.loads(b)["account"] for b in bodies) == PROJECTS
        # WHEN the push subscription posts each to the scan target, and a poison message too
        poison = json.dumps({"kind": "escher.scan_account", "run": scan["org_run"], "account": "No"})
        calls = [
            ["on_scan", "http", json.dumps(_envelope(body, subscription)), json_headers]
            for body in [*bodies, poison]
        ]
        scanned = run_worker(gcp_bundle, env, calls, tmp_path)
    finally:
        subscriber.delete_subscription(subscription=subscription)
        publisher.delete_topic(topic=topic)
    assert scanned.outside == [], scanned.outside
    statuses = [r["ok"]["status"] for r in scanned.results]
    assert statuses == [200, 200, 500], scanned.results  # 500: Pub/Sub redelivers, then dead-letters it
    report = deployment.read(f"reports/org/{scan['org_run']}.json")
    assert [s["account"] for s in report["accounts"]] == PROJECTS and report["complete"] is True
    # no service account here: each project is named with why
    assert report["not_scanned"] == PROJECTS
    assert all("credentials" in s["error"] for s in report["accounts"]), report


def _envelope(body: str, subscription: str) -> dict[str, Any]:
    return {
        "message": {"data": base64.b64encode(body.encode()).decode(), "messageId": "1", "attributes": {}},
        "subscription": subscription,
        "deliveryAttempt": 1,
    }
