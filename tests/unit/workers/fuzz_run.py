"""Sends ``fuzzing.py``'s malformed deliveries to each worker's entry point and counts what became of them:
0 exceptions, 0 cloud calls ("actions"), every delivery dead-lettered with a reason, every letter writable (as the
object, SQS and Pub/Sub sinks write it)."""

from __future__ import annotations

import json
import logging
import os
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from escher.ops import CloudContext
from escher.pipeline import runtime
from escher.pipeline.deadletter import DeadLetter
from tests.unit.workers.fuzzing import GENERATORS, Delivery

# pre-approved fixes: an event that slipped through would be acted on, and the cloud call counted
CONFIG = """
[remediation]
make_public_buckets_private = true
"""


class NoCloud(CloudContext):
    """Any client asked for is an action taken on a malformed event: counted, and refused."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def _refuse(self, *what: str) -> Any:
        self.calls.append(":".join(what))
        raise AssertionError(f"a malformed event reached the cloud: {what}")

    def aws(self, service: str, region: str | None = None) -> Any:
        return self._refuse("aws", service)

    def azure(self, kind: str, subscription_id: str) -> Any:
        return self._refuse("azure", kind)

    def azure_blob(self) -> Any:
        return self._refuse("azure", "blob")

    def gcs(self) -> Any:
        return self._refuse("gcp", "storage")

    def gcp_compute(self, kind: str) -> Any:
        return self._refuse("gcp", kind)

    def gcp_sql(self) -> Any:
        return self._refuse("gcp", "sql")


class CheckingDeadLetters:
    """Counts letters, and writes each as every sink would (object JSON, SQS/Pub/Sub ASCII JSON cut to fit)."""

    def __init__(self) -> None:
        self.count = 0
        self.unwritable: list[str] = []
        self.reasons: Counter[str] = Counter()
        self.encodings: Counter[str] = Counter()

    def send(self, letter: DeadLetter) -> str:
        self.count += 1
        try:
            json.loads(letter.to_json())
            queued = json.loads(letter.fitted(256 * 1024 - 4096).to_json(ascii_only=True))
            assert len(json.dumps(queued)) <= 256 * 1024, "over the SQS limit"
            assert letter.reason.strip(), "no reason"
            _ = letter.letter_id
        except (ValueError, AssertionError, RecursionError) as exc:
            self.unwritable.append(f"{type(exc).__name__}: {exc}")
        self.reasons[letter.reason.split(" at ")[0][:60]] += 1
        self.encodings[letter.payload_encoding] += 1
        return f"checked:{self.count}"


@dataclass
class Figures:
    worker: str
    deliveries: int = 0
    messages: int = 0
    seconds: float = 0.0
    dead_lettered: int = 0  # parked with a reason, and answered so (the platform will not redeliver it)
    not_parked: list[str] = field(default_factory=list)  # anything else: must stay empty
    exceptions: list[str] = field(default_factory=list)
    actions: int = 0
    unwritable: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    encodings: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        rate = self.deliveries / self.seconds if self.seconds else 0.0
        return (
            f"{self.worker:<6} {self.deliveries:>8,} deliveries ({self.messages:,} messages) "
            f"{rate:>8,.0f} deliveries/s  exceptions {len(self.exceptions)}  actions {self.actions}  "
            f"dead-lettered {self.dead_lettered:,}  not dead-lettered {len(self.not_parked)}  "
            f"unwritable letters {len(self.unwritable)}"
        )


@contextmanager
def environment(tmp: Path) -> Iterator[None]:
    """A worker's environment with in-memory state and a config that pre-approves fixes; restored after."""
    config = tmp / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {
        "ESCHER_CONFIG_DIR": str(config),
        "ESCHER_DATA_DIR": str(tmp / "data"),
        "ESCHER_STATE_URL": "memory://",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    saved = {k: os.environ.get(k) for k in [*env, "ESCHER_DEAD_LETTER_URL", "ESCHER_AUDIT_URL"]}
    os.environ.update(env)
    os.environ.pop("ESCHER_DEAD_LETTER_URL", None)
    os.environ.pop("ESCHER_AUDIT_URL", None)
    runtime.reset()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        runtime.reset()


def _caller(worker: str) -> Callable[[Delivery], bool | None]:
    """Calls the worker's entry point as its platform would: whether the reply says "parked" (None: the entry
    point answers nothing, the letters alone say)."""
    if worker == "aws":
        from escher.demo.run import LambdaContext
        from escher.workers.aws.handler import handler

        def aws(d: Delivery) -> bool | None:
            reply = handler(d.value, LambdaContext())
            if d.entry == "sqs":
                return reply == {"batchItemFailures": []}
            return bool(reply.get("outcome") == "dead_lettered" and reply.get("reason"))

        return aws
    if worker == "azure":
        import azure.functions as func

        from tests.harness.azure_functions import indexed_functions

        functions = indexed_functions()
        on_event_grid = functions["on_event_grid"].get_user_function()
        action_group = functions["action_group"].get_user_function()

        def azure(d: Delivery) -> bool | None:
            if d.entry == "event_grid":
                e = d.value
                on_event_grid(
                    func.EventGridEvent(
                        id=e.get("id"), data=e.get("data"), topic=e.get("topic"), subject=e.get("subject"),
                        event_type=e.get("eventType"), event_time=_time(e.get("eventTime")),
                        data_version=e.get("dataVersion"),
                    )
                )  # fmt: skip
                return None
            response = action_group(
                func.HttpRequest(method="POST", url="/api/action-group", body=d.value, headers={})
            )
            body = json.loads(response.get_body())
            return bool(response.status_code == 200 and body["outcome"] == "dead_lettered" and body["reason"])

        return azure
    from cloudevents.http import CloudEvent
    from werkzeug.test import EnvironBuilder

    from escher.workers.gcp.main import on_pubsub, on_schedule

    def gcp(d: Delivery) -> bool | None:
        if d.entry == "pubsub":
            attributes = {"type": "google.cloud.pubsub.topic.v1.messagePublished", "id": "fuzz",
                          "source": "//pubsub.googleapis.com/projects/p/topics/t"}  # fmt: skip
            on_pubsub(CloudEvent(attributes, d.value))
            return None
        request = EnvironBuilder(method="POST", data=d.value, content_type="application/json").get_request()
        text, status, _ = on_schedule(request)
        body = json.loads(text)
        return bool(status == 200 and body["outcome"] == "dead_lettered" and body["reason"])

    return gcp


def _time(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None if not isinstance(value, int | float) else datetime.fromtimestamp(0, UTC)


def run(worker: str, count: int, seed: int = 0) -> Figures:
    """``count`` malformed deliveries to ``worker``'s entry points (inside :func:`environment`)."""
    rng = random.Random(f"{worker}:{seed}")
    sink, cloud = CheckingDeadLetters(), NoCloud()
    with _quiet_worker_logs():
        return _run(worker, count, rng, sink, cloud)


@contextmanager
def _quiet_worker_logs() -> Iterator[None]:
    """Powertools keeps one logger per service for the process (an earlier test's, at INFO): ERROR while the fuzz
    runs, as it was after."""
    from escher.workers.aws import _tools

    _tools.logger()  # made (as the worker makes it) before its level is changed, so it is put back as made
    log = logging.getLogger(_tools.SERVICE)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _run(worker: str, count: int, rng: random.Random, sink: CheckingDeadLetters, cloud: NoCloud) -> Figures:
    figures = Figures(worker)
    # stdout: powertools prints its metrics there (every 100, even when disabled); the figures are the point
    with (
        runtime.override(worker, dead_letters=sink, cloud=cloud),
        open(os.devnull, "w") as null,
        redirect_stdout(null),
    ):
        call = _caller(worker)
        done = 0
        while done < count:  # in rounds of 2,000 made beforehand: the time counted is the workers' alone
            deliveries = [GENERATORS[worker](rng) for _ in range(min(count - done, 2000))]
            for d in deliveries:
                before = sink.count
                start = time.perf_counter()
                try:
                    parked = call(d)
                except Exception as exc:  # noqa: BLE001 - what the fuzz is for: any exception is counted and shown
                    figures.exceptions.append(f"{d.entry}/{d.kind}: {type(exc).__name__}: {str(exc)[:200]}\n"
                                              + "".join(traceback.format_tb(exc.__traceback__)[-3:]))  # fmt: skip
                    continue
                finally:
                    figures.seconds += time.perf_counter() - start
                    figures.deliveries += 1
                    figures.messages += d.messages
                    figures.kinds[f"{d.entry}/{d.kind}"] += 1
                letters = sink.count - before
                if parked is not False and letters == d.messages:
                    figures.dead_lettered += 1
                else:
                    figures.not_parked.append(
                        f"{d.entry}/{d.kind}: {letters} of {d.messages} letters, reply {parked}"
                    )
            done += len(deliveries)
    figures.actions = len(cloud.calls)
    figures.unwritable = sink.unwritable
    figures.reasons = sink.reasons
    figures.encodings = sink.encodings
    return figures
