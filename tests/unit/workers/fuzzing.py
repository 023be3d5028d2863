"""Malformed deliveries for each worker's real entry point (``fuzz_run.py`` sends them and counts the outcome).

Every delivery made here is poison on purpose: a real sample event with something no reader survives put at a
random place in it (nesting 65-5,000 deep, an integer of 1,001-5,000 digits, a lone surrogate in a value or a key,
NaN, bytes, over 1 MiB), a required field of the wrong type, a body that is not JSON / not UTF-8 / cut short, or
no envelope at all. Each must come out dead-lettered with a reason. Used by ``tests/unit/workers/test_fuzz.py``
(a few thousand) and ``make fuzz`` (100,000 per worker, ``bench/fuzz_workers.py``).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from escher.pipeline.deadletter import DeadLetter
from escher.pipeline.payloads import MAX_BYTES, MAX_DEPTH, MAX_INT_DIGITS

SAMPLES = Path(__file__).parents[1] / "events" / "samples"
WORKERS = ("aws", "azure", "gcp")


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
