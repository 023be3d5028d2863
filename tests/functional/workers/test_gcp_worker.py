"""The GCP worker end to end: a Pub/Sub CloudEvent over HTTP to a running functions-framework process.

The fix runs on gcp-storage-emulator (it keeps IAM policies); the worker's state (markers, audit) is on
fake-gcs-server, which enforces ifGenerationMatch, so the create-if-absent markers are the real thing.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from escher.emulators import FakeGcsEmulator, GcsStorageEmulator, free_port
from escher.emulators._process import wait_for_port
from tests.functional.workers.conftest import CONFIG
from tests.unit.pipeline.fakes import SAMPLES

REPO = Path(__file__).parents[3]
PUSH = json.loads((SAMPLES / "gcp" / "storage_set_iam_all_users.json").read_text())
BUCKET = "shop-exports"


class Function:
    def __init__(self, port: int, log: Path) -> None:
        self.url, self.log = f"http://127.0.0.1:{port}/", log

    def post(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read() + b"\n" + self.log.read_bytes()[-4000:]


@contextmanager
def start_function(target: str, signature: str, env: dict[str, str], tmp: Path) -> Iterator[Function]:
    port = free_port()
    log = tmp / f"{target}.log"
    binary = Path(sys.executable).with_name("functions-framework")
    argv = [
        str(binary),
        "--source",
        str(REPO / "workers" / "gcp" / "main.py"),
        "--target",
        target,
        "--signature-type",
        signature,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True
        )
    try:
        wait_for_port(port, timeout=60, name="functions-framework", process=proc)
        yield Function(port, log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


@pytest.fixture
def gcp_state(fake_gcs: FakeGcsEmulator, gcs_emulator: GcsStorageEmulator, tmp_path: Path) -> dict[str, Any]:
    state = storage.Client(
        project="escher-test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": fake_gcs.endpoint_url},
    )
    name = f"escher-state-{tmp_path.name[-8:].lower().replace('_', '-')}"
    state.create_bucket(name)
    estate = storage.Client(
        project="escher-test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": gcs_emulator.endpoint_url},
    )
    bucket = estate.lookup_bucket(BUCKET) or estate.create_bucket(BUCKET)
    policy = bucket.get_iam_policy(requested_policy_version=3)
    policy.bindings.append({"role": "roles/storage.objectViewer", "members": {"allUsers"}})
    bucket.set_iam_policy(policy)
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {
        "STORAGE_EMULATOR_HOST": gcs_emulator.endpoint_url,
        "ESCHER_STATE_URL": f"gs://{name}?endpoint={fake_gcs.endpoint_url}",
        "ESCHER_DEAD_LETTER_URL": f"file://{tmp_path / 'dead-letters'}",
        "ESCHER_CONFIG_DIR": str(config),
        "ESCHER_DATA_DIR": str(tmp_path / "data"),
        "GOOGLE_CLOUD_PROJECT": "escher-test",
    }
    return {"env": env, "state": state.bucket(name), "estate": bucket, "tmp": tmp_path}


def cloud_event(push: dict[str, Any]) -> dict[str, Any]:
    message = push["message"]
    return {
        "specversion": "1.0",
        "id": message["messageId"],
        "source": "//pubsub.googleapis.com/projects/shop-prod-4711/topics/escher-events",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "time": message["publishTime"],
        "datacontenttype": "application/json",
        "data": {"message": message, "subscription": push["subscription"]},
    }


def test_pubsub_cloudevent_to_functions_framework_fixes_the_bucket_and_audits_it(
    gcp_state: dict[str, Any],
) -> None:
    with start_function("on_pubsub", "cloudevent", gcp_state["env"], gcp_state["tmp"]) as function:
        status, body = function.post(cloud_event(PUSH), {"Content-Type": "application/cloudevents+json"})
        assert status == 200, body.decode(errors="replace")
        # the same message again, this time as a raw push envelope (the framework converts it)
        status, body = function.post(PUSH, {"Content-Type": "application/json"})
        assert status == 200, body.decode(errors="replace")
    members = {
        m
        for b in gcp_state["estate"].get_iam_policy(requested_policy_version=3).bindings
        for m in b["members"]
    }
    assert "allUsers" not in members
    audits = [b.name for b in gcp_state["state"].client.list_blobs(gcp_state["state"].name, prefix="audit/")]
    assert len(audits) == 1, audits  # two deliveries, one audit record
    record = json.loads(gcp_state["state"].blob(audits[0]).download_as_bytes())["record"]
    assert record["action"] == "gcp.storage.remove_public_bindings" and record["outcome"] == "verified"


def test_unreadable_message_is_dead_lettered_and_acknowledged(gcp_state: dict[str, Any]) -> None:
    bad = {
        "message": {
            "data": base64.b64encode(b"\xff\xfe not json").decode(),
            "messageId": "m-bad",
            "publishTime": "2024-05-02T09:15:01.123Z",
        },
        "subscription": "projects/p/subscriptions/s",
    }
    with start_function("on_pubsub", "cloudevent", gcp_state["env"], gcp_state["tmp"]) as function:
        status, _ = function.post(cloud_event(bad), {"Content-Type": "application/cloudevents+json"})
        assert status == 200  # parked with the reason: Pub/Sub must not redeliver it forever
    letters = list((gcp_state["tmp"] / "dead-letters").rglob("*.json"))
    assert len(letters) == 1
    assert json.loads(letters[0].read_text())["source"] == "pubsub"


def test_cloud_scheduler_http_call_runs_the_job(gcp_state: dict[str, Any]) -> None:
    with start_function("on_schedule", "http", gcp_state["env"], gcp_state["tmp"]) as function:
        status, body = function.post({"job": "morning_digest"}, {"Content-Type": "application/json"})
        assert status == 200, body
        assert json.loads(body)["job"] == "morning_digest"
        status, body = function.post({"job": "nope"}, {"Content-Type": "application/json"})
        assert status == 200 and json.loads(body)["outcome"] == "dead_lettered"


def _poison_push() -> dict[str, Any]:
    """A push whose data holds an integer Python will not read (over 4,300 digits): the normalizer raises on it."""
    bad = json.loads(json.dumps(PUSH))
    bad["message"]["data"] = base64.b64encode(b'{"n": 1' + b"0" * 5000 + b"}").decode()
    bad["message"]["messageId"] = "m-poison"
    return bad


def test_a_poison_message_is_parked_with_the_reason_and_acknowledged(gcp_state: dict[str, Any]) -> None:
    deep = {**cloud_event(PUSH), "id": "m-deep"}
    nested: list[Any] = []
    for _ in range(900):
        nested = [nested]
    deep["data"] = {**deep["data"], "extra": nested}
    with start_function("on_pubsub", "cloudevent", gcp_state["env"], gcp_state["tmp"]) as function:
        for event in (cloud_event(_poison_push()), deep):
            status, body = function.post(event, {"Content-Type": "application/cloudevents+json"})
            assert status == 200, body.decode(errors="replace")  # acknowledged: Pub/Sub will not redeliver it
    letters = [json.loads(p.read_text()) for p in (gcp_state["tmp"] / "dead-letters").rglob("*.json")]
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(letters) == 2 and all(letter["source"] == "pubsub" for letter in letters)
    assert "integer string conversion" in reasons[1] and "nested deeper than 64" in reasons[0], reasons


def test_a_poison_message_whose_letter_cannot_be_written_is_redelivered(gcp_state: dict[str, Any]) -> None:
    fake_gcs = gcp_state["env"]["ESCHER_STATE_URL"].split("?endpoint=")[1]
    env = {**gcp_state["env"], "ESCHER_DEAD_LETTER_URL": f"gs://escher-no-such-bucket?endpoint={fake_gcs}"}
    with start_function("on_pubsub", "cloudevent", env, gcp_state["tmp"]) as function:
        status, body = function.post(
            cloud_event(_poison_push()), {"Content-Type": "application/cloudevents+json"}
        )
    assert status == 500, body.decode(errors="replace")  # Pub/Sub redelivers, then its dead-letter topic
    assert b"DeadLetterError" in body
