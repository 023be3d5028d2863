"""Malformed deliveries for each worker's real entry point, and a run that counts what became of them.

Every delivery made here is poison on purpose: a real sample event with something no reader survives put at a
random place in it (nesting 65-5,000 deep, an integer of 1,001-5,000 digits, a lone surrogate in a value or a key,
NaN, bytes, over 1 MiB), a required field of the wrong type, a body that is not JSON / not UTF-8 / cut short, or
no envelope at all. Each must come out dead-lettered with a reason: 0 exceptions, 0 cloud calls ("actions"),
and every letter writable (as the SQS and Pub/Sub sinks write it). Used by ``tests/unit/workers/test_fuzz.py``
(a few thousand) and ``make fuzz`` (100,000 per worker, ``bench/fuzz_workers.py``).
"""

from __future__ import annotations

import base64
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
from escher.pipeline.payloads import MAX_BYTES, MAX_DEPTH, MAX_INT_DIGITS

SAMPLES = Path(__file__).parents[1] / "events" / "samples"
WORKERS = ("aws", "azure", "gcp")

# pre-approved fixes: an event that slipped through would be acted on, and the cloud call counted
CONFIG = """
[remediation]
make_public_buckets_private = true
"""


def _samples(cloud: str, keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    found = []
    for path in sorted((SAMPLES / cloud).glob("*.json")):
        if not path.name.endswith(".expected.json"):
            data = json.loads(path.read_text())
            if keep(data):
                found.append(json.dumps(data))
    return found


EVENTBRIDGE = _samples("aws", lambda d: "detail-type" in d)
SNS = _samples("aws", lambda d: d.get("Type") == "Notification")
EVENT_GRID = _samples("azure", lambda d: "eventType" in d)
ACTION_GROUP = _samples("azure", lambda d: "schemaId" in d)
PUBSUB = _samples("gcp", lambda d: "message" in d)


# -- poison ---------------------------------------------------------------------------------------------------
def _deep(rng: random.Random) -> Any:
    value: Any = rng.choice([[], {}, "x", 1])
    # just over the limit, around where Python's own recursion gives up (~1,000), and far beyond
    depth = rng.choice([(MAX_DEPTH + 1, 200), (900, 1100), (1100, 5000)])
    for _ in range(rng.randint(*depth)):
        value = [value] if rng.random() < 0.5 else {"n": value}
    return value


def _huge_int(rng: random.Random) -> int:
    return int(10 ** rng.randint(MAX_INT_DIGITS + 1, 5000)) * rng.choice([1, -1])


def _surrogate(rng: random.Random) -> str:
    return "ok" * rng.randint(0, 3) + chr(rng.randint(0xD800, 0xDFFF)) + "x" * rng.randint(0, 3)


def _not_finite(rng: random.Random) -> float:
    return rng.choice([float("nan"), float("inf"), float("-inf")])


def _oversize(rng: random.Random) -> str:
    return "A" * (MAX_BYTES + rng.randint(1, 4096))


def _raw_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(0, 16))


VALUES: dict[str, Callable[[random.Random], Any]] = {
    "deep": _deep,
    "huge_int": _huge_int,
    "surrogate": _surrogate,
    "not_finite": _not_finite,
    "oversize": _oversize,
    "bytes": _raw_bytes,
}
WEIGHTS = {"deep": 4, "huge_int": 4, "surrogate": 4, "not_finite": 2, "oversize": 0.2, "bytes": 2}

WRONG = [None, True, 0, -7, 2.5, "", "text", [], [1, "a"], {}, {"k": "v"}]


def _wrong(rng: random.Random, *, not_: tuple[type, ...] = ()) -> Any:
    return rng.choice([w for w in WRONG if not isinstance(w, not_)])


def poison_somewhere(rng: random.Random, event: Any, *, text: bool = False) -> str:
    """Put one poison value at a random place in ``event`` (a value, or a key); its kind. ``text``: the event
    travels as JSON text (a redrive, an HTTP body), which carries no bytes: bytes are not among the poisons."""
    kinds = [k for k in WEIGHTS if not (text and k == "bytes")]
    kind = rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
    node = event
    for _ in range(rng.randint(0, 4)):
        children = [
            v for v in (node.values() if isinstance(node, dict) else node) if isinstance(v, dict | list) and v
        ]
        if not children:
            break
        node = rng.choice(children)
    value = VALUES[kind](rng)
    if isinstance(node, list):
        node.insert(rng.randint(0, len(node)), value)
    elif kind == "surrogate" and rng.random() < 0.3:
        node[value] = "a key with a lone surrogate"
    else:
        node[rng.choice([*node, "fuzz"])] = value
    return kind


def bad_text(rng: random.Random, sample: str) -> tuple[str, str | bytes]:
    """A whole body that is no JSON event: (kind, body)."""
    kind = rng.choice(["not_utf8", "not_json", "cut", "nan", "huge_int", "deep", "surrogate_escape",
                       "surrogate_raw", "empty", "oversize", "junk_json"])  # fmt: skip
    body: str | bytes
    if kind == "not_utf8":
        body = b"\xff\xfe" + rng.randbytes(rng.randint(0, 32))
    elif kind == "not_json":
        body = rng.choice(["not json", "<xml/>", "{'single': 'quotes'}", "{", "]", "\x00\x01"])
    elif kind == "cut":
        body = sample[: rng.randint(0, len(sample) - 1)]
    elif kind == "nan":
        body = sample[:-1] + ', "fuzz": ' + rng.choice(["NaN", "Infinity", "-Infinity"]) + "}"
    elif kind == "huge_int":
        body = sample[:-1] + ', "fuzz": 1' + "0" * rng.randint(MAX_INT_DIGITS, 6000) + "}"
    elif kind == "deep":
        depth = rng.randint(MAX_DEPTH + 1, 20_000)
        body = sample[:-1] + ', "fuzz": ' + "[" * depth + "]" * depth + "}"
    elif kind == "surrogate_escape":
        body = sample[:-1] + f', "fuzz": "\\u{rng.randint(0xD800, 0xDFFF):04x}"' + "}"
    elif kind == "surrogate_raw":
        body = sample[:-1] + f', "fuzz": "{chr(rng.randint(0xD800, 0xDFFF))}"' + "}"
    elif kind == "empty":
        body = rng.choice(["", b"", "   "])
    elif kind == "oversize":
        body = sample[:-1] + ', "fuzz": "' + "A" * MAX_BYTES + '"}'
    else:
        body = json.dumps(_wrong(rng))
    if isinstance(body, str) and kind not in ("surrogate_raw",) and rng.random() < 0.5:
        body = body.encode("utf-8")
    return kind, body


# -- deliveries, per worker -----------------------------------------------------------------------------------
@dataclass
class Delivery:
    entry: str  # which entry point: eventbridge, sqs, sns, direct, event_grid, action_group, pubsub, http
    kind: str  # the poison
    value: Any  # what the entry point is called with
    messages: int = 1  # letters expected (an SQS batch: one per record)


def _event(rng: random.Random, samples: list[str]) -> Any:
    return json.loads(rng.choice(samples))


def _wrong_field(rng: random.Random, event: dict[str, Any], fields: dict[str, tuple[type, ...]]) -> str:
    """Give a required field a value of a type it must not have (``fields``: name -> the types it may have)."""
    name = rng.choice(list(fields))
    event[name] = _wrong(rng, not_=fields[name])
    return f"wrong_type:{name}"


_TEXT, _OBJECT = (str,), (dict,)
# "time" may be a number (epoch seconds are a time): numbers are not wrong there
EVENTBRIDGE_FIELDS = {"detail": _OBJECT, "detail-type": _TEXT, "source": _TEXT, "time": (str, int, float),
                      "id": _TEXT, "region": _TEXT, "account": _TEXT, "version": _TEXT}  # fmt: skip
# the function app rebuilds eventTime from the host's datetime: not fuzzed here
# (data that is no object is a generic event by design: not fuzzed as wrong)
EVENT_GRID_FIELDS = {"eventType": _TEXT, "id": _TEXT}
# what the function app passes on from the host's EventGridEvent (anything else in the event never reaches Escher)
EVENT_GRID_PASSED = ("id", "topic", "subject", "eventType", "dataVersion")
ACTION_GROUP_FIELDS = {"data": _OBJECT, "schemaId": _TEXT}
PUBSUB_FIELDS = {"message": _OBJECT}


def aws_delivery(rng: random.Random) -> Delivery:
    entry = rng.choices(["eventbridge", "sqs", "sns", "direct"], weights=[4, 4, 1, 1])[0]
    if entry == "eventbridge":
        event = _event(rng, EVENTBRIDGE)
        kind = (
            _wrong_field(rng, event, EVENTBRIDGE_FIELDS)
            if rng.random() < 0.25
            else poison_somewhere(rng, event)
        )
        return Delivery(entry, kind, event)
    if entry == "sqs":
        records, kinds = [], []
        for i in range(rng.randint(1, 5)):
            record = {
                "messageId": f"m-{rng.getrandbits(40):x}-{i}",
                "receiptHandle": "AQEB",
                "body": "",
                "attributes": {"ApproximateReceiveCount": str(rng.randint(1, 9))},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:escher-dead-letters",
                "awsRegion": "us-east-1",
            }
            roll = rng.random()
            if roll < 0.15:  # the record itself is wrong: body not a string, attributes of the wrong type
                name = rng.choice(["body", "attributes"])
                record[name] = _wrong(rng, not_=(str,) if name == "body" else ())
                if name == "attributes":
                    record["body"] = bad_text(rng, rng.choice(EVENTBRIDGE))[1]
                    record["body"] = _as_str(record["body"])
                kinds.append(f"sqs_record:{name}")
            elif roll < 0.3:  # a redrive of one of our letters whose payload is poison
                event = _event(rng, EVENTBRIDGE)
                kinds.append("redrive:" + poison_somewhere(rng, event, text=True))
                letter = DeadLetter(reason="r", error="E", source="eventbridge", payload=event)
                record["body"] = letter.to_json().decode()
            else:
                kind, body = bad_text(rng, rng.choice(EVENTBRIDGE))
                record["body"] = _as_str(body)
                kinds.append(kind)
            records.append(record)
        return Delivery(entry, "+".join(sorted(set(kinds))), {"Records": records}, messages=len(records))
    if entry == "sns":
        notification = _event(rng, SNS)
        kind = poison_somewhere(rng, notification)
        record = {"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": notification}
        return Delivery(entry, kind, {"Records": [record]})
    junk = rng.choice([_wrong(rng), {"job": _wrong(rng, not_=(str,))}, {"job": "make_coffee"}, {"Records": []},
                       {"Records": "x"}, [_deep(rng)]])  # fmt: skip
    return Delivery(entry, "no_envelope", junk)


def _as_str(body: str | bytes) -> str:
    """SQS bodies are text: bytes that are not UTF-8 arrive as whatever the sender managed to put."""
    return body if isinstance(body, str) else body.decode("utf-8", errors="surrogateescape")


def azure_delivery(rng: random.Random) -> Delivery:
    if rng.random() < 0.5:
        event = _event(rng, EVENT_GRID)
        roll = rng.random()
        if roll < 0.25:
            kind = _wrong_field(rng, event, EVENT_GRID_FIELDS)
        elif roll < 0.4:  # a text field the host passes on holds a lone surrogate
            kind, event[rng.choice(EVENT_GRID_PASSED)] = "surrogate", _surrogate(rng)
        else:
            kind = poison_somewhere(rng, event["data"])
        return Delivery("event_grid", kind, event)
    if rng.random() < 0.5:
        alert = _event(rng, ACTION_GROUP)
        kind = (
            _wrong_field(rng, alert, ACTION_GROUP_FIELDS)
            if rng.random() < 0.3
            else poison_somewhere(rng, alert, text=True)
        )
        from escher.pipeline.payloads import render

        return Delivery("action_group", kind, render(alert))
    kind, body = bad_text(rng, rng.choice(ACTION_GROUP))
    return Delivery("action_group", kind, body if isinstance(body, bytes) else _utf8(body))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")  # a lone surrogate as the bytes that would carry it


def gcp_delivery(rng: random.Random) -> Delivery:
    roll = rng.random()
    if roll < 0.55:  # the push envelope itself is poisoned (the framework hands it over parsed)
        push = _event(rng, PUBSUB)
        kind = _wrong_field(rng, push, PUBSUB_FIELDS) if rng.random() < 0.2 else poison_somewhere(rng, push)
        return Delivery("pubsub", kind, push)
    if roll < 0.75:  # the message data is no event: not base64, not UTF-8, or JSON with a huge integer
        push = _event(rng, PUBSUB)
        kind = rng.choice(["data_not_base64", "data_not_utf8", "data_huge_int", "data_wrong_type"])
        data = {
            "data_not_base64": "%%% not base64 %%%",
            "data_not_utf8": base64.b64encode(b"\xff\xfe" + rng.randbytes(8)).decode(),
            "data_huge_int": base64.b64encode(b"1" + b"0" * rng.randint(4300, 6000)).decode(),
            "data_wrong_type": _wrong(rng, not_=(str, type(None))),  # no data at all is a message still
        }[kind]
        push["message"]["data"] = data
        return Delivery("pubsub", kind, push)
    if roll < 0.85:
        return Delivery("pubsub", "no_envelope", _wrong(rng))
    kind, body = bad_text(rng, rng.choice(PUBSUB))
    if rng.random() < 0.2:
        kind, body = "job_wrong", json.dumps({"job": _wrong(rng, not_=(str,))})
    return Delivery("http", kind, body if isinstance(body, bytes) else _utf8(body))


GENERATORS: dict[str, Callable[[random.Random], Delivery]] = {
    "aws": aws_delivery,
    "azure": azure_delivery,
    "gcp": gcp_delivery,
}


# -- the run --------------------------------------------------------------------------------------------------
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
