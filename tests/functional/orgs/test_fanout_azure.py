"""The organization scan fanned out through a Storage queue on Azure (issue #19 item 4): the daily timer of the
Functions app lists the management group's subscriptions (ARM replayed at the azure-core transport) and sends
one message per subscription to the scan queue on azurite's queue service; the queue, drained as the Functions
host does (one message an invocation, base64 as the host decodes it, a failed message visible again until its
dequeue count reaches ``maxDequeueCount``, then moved to ``<queue>-poison``), has the app's queue-trigger
function scan each subscription; the one whose subscription refuses the worker's identity is named in the
joined report, the others' findings are in it; a message that cannot be read ends in the poison queue.

The estate: tests/functional/scans/azure_estate.py for the first subscription, the same estate under the third
subscription's id (its ARM answers rewritten), 403 AuthorizationFailed for every call into the second."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.functions.queue import QueueMessage as HostQueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from escher.clouds.azure.fanout import MAX_DEQUEUE_COUNT, POISON_QUEUE, QUEUE_CONNECTION, SCAN_QUEUE
from escher.emulators import AzuriteEmulator
from escher.emulators.azure import ACCOUNT_KEY, ACCOUNT_NAME
from escher.ops import CloudContext
from escher.pipeline import runtime
from tests.functional.ops.replay import FakeAzureCredential
from tests.functional.scans import azure_estate
from tests.functional.scans.replay import Router
from tests.harness import replay as wire
from tests.harness.azure_functions import indexed_functions

GROUP = "contoso-platform"
SUB_A = azure_estate.SUB
SUB_B = "00000000-0000-0000-0000-0000000000bb"  # the worker's identity has no role here
SUB_C = "00000000-0000-0000-0000-0000000000cc"
SUBS = [SUB_A, SUB_B, SUB_C]
DESCENDANTS = f"/providers/Microsoft.Management/managementGroups/{GROUP}/descendants"
CONFIG = f"""
[azure]
management_group = "{GROUP}"

[notify.routes]
CRITICAL = ["banner"]
HIGH = ["banner"]
"""


@pytest.fixture(scope="module")
def queue_service() -> Iterator[AzuriteEmulator]:
    """azurite's queue service (``azurite-queue`` from the project's package.json)."""
    with AzuriteEmulator("queue") as server:
        yield server


def _descendant(sub: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub}",
        "type": "Microsoft.Management/managementGroups/subscriptions",
        "name": sub,
        "properties": {"displayName": sub[-2:], "parent": {"id": f"/providers/{GROUP}"}},
    }


class Estate:
    """ARM as the worker's identity sees it: the group's three subscriptions, the estate in A (and, rewritten,
    in C), every call into B refused."""

    def __init__(self, blob: Any) -> None:
        self.router = Router()
        self.truth = azure_estate.seed(self.router, blob)
        self.router.add(
            "GET", DESCENDANTS, {"value": [_descendant(s) for s in SUBS]}, query="api-version=2020-05-01"
        )
        self.router.add("GET", f"/subscriptions/{SUB_A}", {"subscriptionId": SUB_A, "state": "Enabled"})
        self.refused: list[str] = []

    def answer(self, method: str, url: str, headers: Any, body: Any) -> wire.Reply:
        if f"/subscriptions/{SUB_B}" in url:
            self.refused.append(url)
            error = {"error": {"code": "AuthorizationFailed", "message": f"no read access to {SUB_B}"}}
            return 403, {}, json.dumps(error).encode()
        if f"/subscriptions/{SUB_C}" in url:  # the same estate under C's id
            status, headers_, data = self.router.reply(method, url.replace(SUB_C, SUB_A), headers, body)
            return status, headers_, data.replace(SUB_A.encode(), SUB_C.encode())
        return self.router.reply(method, url, headers, body)


class Host:
    """What the Functions host does with the queue trigger (host.json ``extensions.queues``: batch size 1,
    ``maxDequeueCount``): one message an invocation; success deletes it; a failure makes it visible again,
    or, at its maximum dequeue count, moves it to the poison queue."""

    def __init__(self, connection: str) -> None:
        decode = TextBase64DecodePolicy()
        encode = TextBase64EncodePolicy()
        self.queue, self.poison = (
            QueueClient.from_connection_string(
                connection, q, message_encode_policy=encode, message_decode_policy=decode
            )
            for q in (SCAN_QUEUE, POISON_QUEUE)
        )
        trigger = indexed_functions()["scan_account"]
        binding = trigger.get_trigger()
        assert (binding.queue_name, binding.connection) == (SCAN_QUEUE, QUEUE_CONNECTION)
        self.function = trigger.get_user_function()
        self.calls: list[tuple[str, int, bool]] = []  # (body, dequeue count, ok)

    def drain_once(self) -> int:
        handled = 0
        for message in self.queue.receive_messages(messages_per_page=1, visibility_timeout=60):
            handled += 1
            delivered = HostQueueMessage(  # the binding's message, as the host's converter makes it
                id=message.id, body=message.content.encode(), dequeue_count=message.dequeue_count
            )
            try:
                self.function(delivered)
            except Exception:  # noqa: BLE001 - the host counts any failure as a failed delivery
                self.calls.append((message.content, message.dequeue_count, False))
                if message.dequeue_count >= MAX_DEQUEUE_COUNT:
                    self.poison.send_message(message.content)
                    self.queue.delete_message(message)
                else:
                    self.queue.update_message(message, visibility_timeout=0)
            else:
                self.calls.append((message.content, message.dequeue_count, True))
                self.queue.delete_message(message)
        return handled

    def peek(self, queue: QueueClient) -> list[str]:
        return [m.content for m in queue.peek_messages(max_messages=32)]


@pytest.fixture
def worker(
    azure_env: AzuriteEmulator,
    queue_service: AzuriteEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """The worker's environment as the Extension sets it, azurite standing in for the state account (its blob
    and queue endpoints in one connection string)."""
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={azure_env.blob_endpoint};QueueEndpoint={queue_service.endpoint};"
    )
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {
        "AZURE_STORAGE_CONNECTION_STRING": connection,
        "ESCHER_CONFIG_DIR": str(config),
        "ESCHER_DATA_DIR": str(tmp_path / "data"),
        "ESCHER_STATE_URL": "azblob://escher-state",
        "ESCHER_DEAD_LETTER_URL": "azblob://escher-dead-letters/letters",
        "ESCHER_SCAN_QUEUE_URL": f"azqueue://{SCAN_QUEUE}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    blob = BlobServiceClient.from_connection_string(connection)
    for name in ("escher-state", "escher-dead-letters"):
        blob.create_container(name)
    queues = [QueueClient.from_connection_string(connection, q) for q in (SCAN_QUEUE, POISON_QUEUE)]
    for queue in queues:
        queue.create_queue()
    runtime.reset()
    yield {"blob": blob, "connection": connection}
    runtime.reset()
    for queue in queues:
        queue.delete_queue()
    for container in blob.list_containers():
        blob.delete_container(container.name)


def _read(blob: Any, key: str) -> Any:
    return json.loads(blob.get_container_client("escher-state").download_blob(key).readall())


def _keys(blob: Any, prefix: str) -> list[str]:
    return list(blob.get_container_client("escher-state").list_blob_names(name_starts_with=prefix))


def test_the_daily_timer_fans_out_per_subscription_and_the_report_names_the_refused_one(
    worker: dict[str, Any],
) -> None:
    blob = worker["blob"]
    estate = Estate(blob)
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=wire.ReplayTransport(estate.answer),
        azure_client_options={"retry_total": 0},
    )
    host = Host(worker["connection"])
    with runtime.override("azure", cloud=ctx):
        # WHEN the daily timer fires
        indexed_functions()["daily_scan"].get_user_function()(TimerRequest(past_due=False))
        # THEN it scanned nothing itself: one message per subscription of the group is on the scan queue
        [day] = _keys(blob, "reports/daily/")
        scan = _read(blob, day)["parts"]["scan"]
        assert scan["ok"] is True and scan["queued"] == 3 and scan["cloud"] == "azure", scan
        run = scan["org_run"]
        assert _read(blob, f"scans/org/{run}/manifest.json")["accounts"] == SUBS
        queued = [json.loads(m) for m in host.peek(host.queue)]
        assert sorted(m["account"] for m in queued) == SUBS
        assert not _keys(blob, "reports/scan/") and not _keys(blob, f"reports/org/{run}")
        # (the message on the wire is base64, the Functions host's default encoding)
        raw = QueueClient.from_connection_string(worker["connection"], SCAN_QUEUE).peek_messages(
            max_messages=1
        )
        assert json.loads(base64.b64decode(raw[0].content))["kind"] == "escher.scan_account"
        # and a message that is not a scan message is on the queue too (a poison message)
        poison = json.dumps({"kind": "escher.scan_account", "run": run, "account": "not-a-subscription"})
        QueueClient.from_connection_string(
            worker["connection"], SCAN_QUEUE, message_encode_policy=TextBase64EncodePolicy()
        ).send_message(poison)
        # WHEN the host drains the queue, round after round, until it is empty
        rounds = 0
        while host.drain_once():
            rounds += 1
            assert rounds <= 3 * (MAX_DEQUEUE_COUNT + 4), host.calls  # never retried forever
    # THEN each subscription was scanned once; the poison message failed on each of its deliveries
    done = {json.loads(body)["account"]: (count, ok) for body, count, ok in host.calls if ok}
    assert done == {sub: (1, True) for sub in SUBS}
    failed = [count for body, count, ok in host.calls if not ok]
    assert failed == list(range(1, MAX_DEQUEUE_COUNT + 1))
    assert host.peek(host.poison) == [poison] and host.peek(host.queue) == []
    assert estate.refused  # B really was refused
    # the joined report: a section per subscription, the refused one named with why and what to do
    report = _read(blob, f"reports/org/{run}.json")
    sections = {s["account"]: s for s in report["accounts"]}
    assert list(sections) == SUBS and report["complete"] is True and report["cloud"] == "azure"
    assert report["not_scanned"] == [SUB_B]
    assert sections[SUB_B]["status"] == "not scanned"
    assert "AuthorizationFailed" in sections[SUB_B]["error"] and "Reader" in sections[SUB_B]["hint"]
    # A and C: the estate's failing findings, each under its own subscription
    assert sections[SUB_A]["failed"] == sections[SUB_C]["failed"] == len(estate.truth.failing)
    top_a = {(f["check_id"], f["resource_id"]) for f in sections[SUB_A]["findings"]}
    top_c = {(f["check_id"], f["resource_id"].replace(SUB_C, SUB_A)) for f in sections[SUB_C]["findings"]}
    assert len(top_a) == 50 and top_a == top_c and top_a <= estate.truth.failing  # (the report's top 50)
    text = blob.get_container_client("escher-state").download_blob(f"reports/org/{run}.md").readall().decode()
    assert f"## Account {SUB_B} (not scanned)" in text and "2 of 3 account(s) scanned" in text
    # a second delivery of a handled message (the queue delivers at least once) is answered, not scanned again
    calls = len(estate.refused), sum(r.hits for r in estate.router.routes)
    part = _read(blob, f"scans/org/{run}/accounts/{SUB_A}.json")
    again = json.dumps({"kind": "escher.scan_account", "run": run, "account": SUB_A})
    QueueClient.from_connection_string(
        worker["connection"], SCAN_QUEUE, message_encode_policy=TextBase64EncodePolicy()
    ).send_message(again)
    with runtime.override("azure", cloud=ctx):
        assert host.drain_once() == 1
    assert host.calls[-1] == (again, 1, True) and host.peek(host.queue) == []
    assert (len(estate.refused), sum(r.hits for r in estate.router.routes)) == calls
    assert _read(blob, f"scans/org/{run}/accounts/{SUB_A}.json") == part
