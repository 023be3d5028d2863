"""The organization scan fanned out through Pub/Sub on GCP (issue #19 item 4): the scheduler's call to the worker
lists the projects under ``[gcp] parent`` (Resource Manager v3 replayed at googleapiclient's transport) and
publishes one message per project to the scan topic on the Pub/Sub emulator; the scan subscription (with the
dead-letter policy the Extension declares) is drained as its push delivery does: each message posted to the scan
function's entry point (``on_scan``, through functions-framework) in the push envelope, acknowledged on 2xx and
handed back otherwise. The project that refuses the worker's identity is named in the joined report, the
others' findings are in it; a message that cannot be read is redelivered until Pub/Sub itself forwards it to
the dead-letter topic.

The estate: tests/functional/scans/gcp_estate.py for the first project (buckets in gcp-storage-emulator,
the APIs replayed), the same estate under the third project's id, 403 for every call into the second."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escher.clouds.gcp.fanout import MAX_DELIVERY_ATTEMPTS
from escher.emulators import GcsStorageEmulator, PubSubEmulator
from escher.ops import CloudContext
from escher.pipeline import runtime
from tests.functional.scans import gcp_estate
from tests.functional.scans.replay import Router
from tests.harness import replay as wire

MAIN = Path(__file__).resolve().parents[3] / "workers" / "gcp" / "main.py"
HOST = "escher-host"  # the Extension's own project
PARENT = "organizations/1234"
PROD, DENIED, WEB = gcp_estate.PROJECT, "acme-denied", "acme-web"
PROJECTS = [PROD, DENIED, WEB]
TOPIC = f"projects/{HOST}/topics/escher-scan"
SUBSCRIPTION = f"projects/{HOST}/subscriptions/scan-to-scanner"
DEAD_TOPIC = f"projects/{HOST}/topics/scan-dead-letters"
DEAD_KEPT = f"projects/{HOST}/subscriptions/scan-dead-letters-kept"
CONFIG = f"""
[gcp]
parent = "{PARENT}"

[notify.routes]
CRITICAL = ["banner"]
HIGH = ["banner"]
"""


@pytest.fixture(scope="module")
def own_gcs() -> Iterator[GcsStorageEmulator]:
    """A private gcp-storage-emulator (it lists every bucket whatever the project): the estate's, the state."""
    with GcsStorageEmulator() as server:
        yield server


class Estate:
    """The APIs as the worker's identity sees them: three projects under the organization, the estate in the
    first (and, rewritten, in the third), every call into the second refused."""

    def __init__(self, storage_client: Any) -> None:
        self.router = Router()
        self.truth = gcp_estate.seed(self.router, storage_client)
        listed = [
            {
                "name": f"projects/{100 + i}",
                "parent": PARENT,
                "projectId": p,
                "state": "ACTIVE",
                "displayName": p,
            }
            for i, p in enumerate(PROJECTS)
        ]
        self.router.add("GET", "/v3/projects", {"projects": listed}, query=f"parent={PARENT}")
        self.router.add("GET", "/v3/folders", {}, query=f"parent={PARENT}")
        self.router.add(
            "GET", f"/v3/projects/{PROD}", {"name": "projects/100", "projectId": PROD, "state": "ACTIVE"}
        )
        self.refused: list[str] = []

    def answer(self, method: str, url: str, headers: Any, body: Any) -> wire.Reply:
        if DENIED in url:
            self.refused.append(url)
            error = {"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}
            return 403, {"content-type": "application/json"}, json.dumps(error).encode()
        if WEB in url:  # the same estate under the third project's id
            status, headers_, data = self.router.reply(method, url.replace(WEB, PROD), headers, body)
            return status, headers_, data.replace(PROD.encode(), WEB.encode())
        return self.router.reply(method, url, headers, body)

    def context(self) -> CloudContext:
        from google.auth.credentials import AnonymousCredentials

        return CloudContext(
            gcp_project=HOST,
            gcp_credentials=AnonymousCredentials(),
            gcp_session_adapter=wire.ReplayAdapter(self.answer),
            gcp_discovery_http=wire.HttplibReplay(self.answer),
        )


class Push:
    """What the push subscription does: each message posted to the scan function in the push envelope; 2xx
    acknowledges it, anything else hands it back (Pub/Sub counts the delivery and, at the subscription's
    maximum, forwards it to the dead-letter topic)."""

    def __init__(self) -> None:
        import functions_framework
        from google.cloud import pubsub_v1

        self.subscriber = pubsub_v1.SubscriberClient()
        self.client = functions_framework.create_app("on_scan", str(MAIN), "http").test_client()
        self.calls: list[tuple[str, int, int]] = []  # (body, delivery attempt, status)

    def drain_once(self) -> int:
        got = self.subscriber.pull(request={"subscription": SUBSCRIPTION, "max_messages": 1}, timeout=10)
        for received in got.received_messages:
            envelope = {
                "message": {
                    "data": base64.b64encode(received.message.data).decode(),
                    "messageId": received.message.message_id,
                    "attributes": dict(received.message.attributes),
                },
                "subscription": SUBSCRIPTION,
                "deliveryAttempt": received.delivery_attempt,
            }
            reply = self.client.post("/", json=envelope)
            self.calls.append((received.message.data.decode(), received.delivery_attempt, reply.status_code))
            if 200 <= reply.status_code < 300:
                self.subscriber.acknowledge(subscription=SUBSCRIPTION, ack_ids=[received.ack_id])
            else:
                self.subscriber.modify_ack_deadline(
                    subscription=SUBSCRIPTION, ack_ids=[received.ack_id], ack_deadline_seconds=0
                )
        return len(got.received_messages)


@pytest.fixture
def worker(
    pubsub_env: PubSubEmulator, own_gcs: GcsStorageEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The worker's environment as the Extension sets it; the scan topic, its subscription with the
    dead-letter policy and the dead-letter topic's keeping subscription made on the emulator."""
    from google.cloud import pubsub_v1, storage

    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {
        **own_gcs.env(),
        "GOOGLE_CLOUD_PROJECT": HOST,
        "ESCHER_CONFIG_DIR": str(config),
        "ESCHER_DATA_DIR": str(tmp_path / "data"),
        "ESCHER_STATE_URL": "gs://escher-state",
        "ESCHER_SCAN_QUEUE_URL": f"pubsub://{TOPIC}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = storage.Client(project=HOST)
    client.create_bucket("escher-state")
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    for topic in (TOPIC, DEAD_TOPIC):
        publisher.create_topic(name=topic)
    subscriber.create_subscription(
        request={
            "name": SUBSCRIPTION,
            "topic": TOPIC,
            "ack_deadline_seconds": 600,
            "dead_letter_policy": {
                "dead_letter_topic": DEAD_TOPIC,
                "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
            },
        }
    )
    subscriber.create_subscription(name=DEAD_KEPT, topic=DEAD_TOPIC)
    runtime.reset()
    yield client
    runtime.reset()
    for name in (SUBSCRIPTION, DEAD_KEPT):
        subscriber.delete_subscription(subscription=name)
    for topic in (TOPIC, DEAD_TOPIC):
        publisher.delete_topic(topic=topic)
    for bucket in client.list_buckets():
        bucket.delete(force=True)


def _read(client: Any, key: str) -> Any:
    return json.loads(client.bucket("escher-state").blob(key).download_as_bytes())


def _keys(client: Any, prefix: str) -> list[str]:
    return [b.name for b in client.list_blobs("escher-state", prefix=prefix)]


def test_the_daily_job_fans_out_per_project_and_the_report_names_the_refused_one(worker: Any) -> None:
    import functions_framework
    from google.cloud import pubsub_v1

    estate = Estate(worker)
    push = Push()
    with runtime.override("gcp", cloud=estate.context()):
        # WHEN Cloud Scheduler posts the daily job to the worker
        scheduler = functions_framework.create_app("on_schedule", str(MAIN), "http").test_client()
        daily = scheduler.post("/", json={"job": "daily_scan"})
        assert daily.status_code == 200, daily.get_data(as_text=True)
        # THEN it scanned nothing itself: one message per project under the parent is on the scan topic
        scan = json.loads(daily.get_data())["parts"]["scan"]
        assert scan["ok"] is True and scan["queued"] == 3 and scan["cloud"] == "gcp", scan
        run = scan["org_run"]
        assert _read(worker, f"scans/org/{run}/manifest.json")["accounts"] == sorted(PROJECTS)
        assert not _keys(worker, "reports/scan/") and not _keys(worker, f"reports/org/{run}")
        # and a message that is not a scan message is on the topic too (a poison message)
        poison = json.dumps({"kind": "escher.scan_account", "run": run, "account": "Not A Project"})
        pubsub_v1.PublisherClient().publish(TOPIC, poison.encode()).result(timeout=30)
        # WHEN the subscription delivers, round after round, until nothing is left
        rounds = 0
        while push.drain_once() or push.drain_once():
            rounds += 1
            assert rounds <= 3 * (MAX_DELIVERY_ATTEMPTS + 4), push.calls  # never retried forever
    # THEN each project was scanned once, on its first delivery; the poison message failed on each delivery
    done = {json.loads(body)["account"]: attempt for body, attempt, status in push.calls if status == 200}
    assert done == dict.fromkeys(PROJECTS, 1)
    failed = [(attempt, status) for body, attempt, status in push.calls if body == poison]
    assert failed == [(n, 500) for n in range(1, MAX_DELIVERY_ATTEMPTS + 1)]
    # Pub/Sub moved it to the dead-letter topic, saying how often it was delivered
    kept = pubsub_v1.SubscriberClient().pull(
        request={"subscription": DEAD_KEPT, "max_messages": 10}, timeout=10
    )
    [letter] = [m.message for m in kept.received_messages]
    assert letter.data.decode() == poison
    assert letter.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(MAX_DELIVERY_ATTEMPTS)
    assert estate.refused  # the denied project really was refused
    # the joined report: a section per project, the refused one named with why and what to do
    report = _read(worker, f"reports/org/{run}.json")
    sections = {s["account"]: s for s in report["accounts"]}
    assert list(sections) == sorted(PROJECTS) and report["complete"] is True and report["cloud"] == "gcp"
    assert report["not_scanned"] == [DENIED]
    assert sections[DENIED]["status"] == "not scanned"
    assert "403" in sections[DENIED]["error"] and "service account" in sections[DENIED]["hint"]
    # the other two: the estate's failing findings, each under its own project (the buckets are the
    # emulator's, listed for both: the state bucket's own findings come on top of the estate's)
    assert sections[PROD]["failed"] == sections[WEB]["failed"] > len(estate.truth.failing)
    prod = {(f["check_id"], f["resource_id"]) for f in sections[PROD]["findings"]}
    web = {(f["check_id"], f["resource_id"].replace(WEB, PROD)) for f in sections[WEB]["findings"]}
    assert len(prod) == 50 and prod == web and prod <= estate.truth.failing  # (the report's top 50)
    text = worker.bucket("escher-state").blob(f"reports/org/{run}.md").download_as_bytes().decode()
    assert f"## Account {DENIED} (not scanned)" in text and "2 of 3 account(s) scanned" in text
