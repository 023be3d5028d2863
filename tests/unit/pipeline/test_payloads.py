"""Poison payloads: the limits say what is wrong and where; a dead letter can hold any payload at all."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from escher.pipeline.deadletter import DeadLetter, MemoryDeadLetters, ObjectDeadLetters
from escher.pipeline.errors import PermanentEventError
from escher.pipeline.objects import MemoryObjects
from escher.pipeline.payloads import MAX_BYTES, parse_json, problem, render


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": [value]}
    return value


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("[" * 990 + "]" * 990, "nested deeper than 64 levels"),
        ("[" * 50_000 + "]" * 50_000, "nested deeper than 64 levels"),  # json's own RecursionError
        ('{"n": 1' + "0" * 5000 + "}", "integer of 5,001 digits"),  # over Python's 4,300-digit limit
        ('{"n": 1' + "0" * 1500 + "}", "integer of 1,501 digits"),  # under it, over Escher's
        ('{"a": {"b": "\\ud800"}}', "lone surrogate ('\\ud800') at a.b"),
        ('{"a": NaN}', "NaN, which JSON does not allow"),
        (b"\xff\xfe{}", "not UTF-8"),
        ('{"cut": ', "not JSON"),
        ("x" * (MAX_BYTES + 1), "over the 1,048,576 limit"),
    ],
)
def test_a_body_beyond_the_limits_is_a_permanent_error_that_says_what_and_where(
    body: str | bytes, says: str
) -> None:
    with pytest.raises(PermanentEventError) as caught:
        parse_json(body)
    assert says in caught.value.message
    assert caught.value.hint


def test_the_limits_pass_real_events_and_name_the_place_of_a_problem() -> None:
    assert problem(parse_json(json.dumps(nested(30)))) is None
    assert problem({"detail": {"tags": [{"k": "v"}, {"k": "\udfff"}]}}) == (
        "holds a lone surrogate ('\\udfff') at detail.tags[1].k"
    )
    assert problem({"detail": {"\ud800": 1}}) == "holds a lone surrogate ('\\ud800') in a key at detail"
    assert problem({"a": 10**1000}) == "holds an integer of over 1,000 digits at a"
    assert problem({"a": 10**1000 - 1}) is None  # 1,000 digits: still fine
    assert problem({"a": b"raw"}) == "holds a value of type bytes at a, which JSON cannot carry"
    assert problem({1: "x"}) == "has a key of type int at the top level (JSON keys are strings)"
    assert "nested deeper than 64 levels" in (problem(nested(2000)) or "")


def test_render_keeps_what_json_cannot_hold_and_is_json_for_the_rest() -> None:
    value = {"a": [1, 2.5, None, True, "é\ud800"], "deep": nested(3000), "big": 10**5000}
    text = render(value).decode("ascii")
    assert text.startswith('{"a":[1,2.5,null,true,"\\u00e9\\ud800"],"deep":{"n":[{"n":[')
    assert text.endswith(f'"big":{hex(10**5000)}}}')
    assert json.loads(render(nested(50))) == nested(50)  # within the limits: exactly its JSON


# -- the measured crashes: the writer choked on ~990-deep nesting and lone surrogates ----------------------
POISON = {
    "deep_990": {"detail": nested(990)},
    "deep_in_a_list": [nested(10), nested(1000)],
    "lone_surrogate": {"detail": {"name": "bad\ud800name", "\udc00key": 1}},
    "huge_int": {"detail": {"n": 10**5000}},
    "nan": {"detail": {"n": float("nan")}},
    "not_utf8": b"\xff\xfe\x00garbage",
    "bytes_inside": {"data": b"\x00\xff"},
}


@pytest.mark.parametrize("name", sorted(POISON))
def test_a_dead_letter_holds_any_payload_as_base64_with_the_reason(name: str) -> None:
    payload = POISON[name]
    letter = DeadLetter(reason="r", error="E", source="sqs", payload=payload)
    assert letter.payload_encoding == "base64" and letter.payload_note
    raw = base64.b64decode(letter.payload)
    if isinstance(payload, bytes):
        assert raw == payload  # the bytes as delivered
    else:
        assert raw == render(payload)
    # every way a sink writes it works, and reads back the same
    assert DeadLetter.model_validate_json(letter.to_json()) == letter
    assert json.loads(letter.to_json(ascii_only=True))["payload"] == letter.payload
    assert len(letter.letter_id) == 24
    key = ObjectDeadLetters(objects := MemoryObjects(), "dl").send(letter)
    assert objects.get(key) is not None


def test_a_json_payload_stays_json_and_text_fields_lose_their_lone_surrogates() -> None:
    letter = DeadLetter(
        reason="bad \ud800 field", error="E", source="s", event_id="id\udfff", payload={"a": [1]}
    )
    assert letter.payload == {"a": [1]} and letter.payload_encoding == "json" and letter.payload_note is None
    assert letter.reason == "bad \\ud800 field" and letter.event_id == "id\\udfff"
    assert DeadLetter(reason="r", error="E", source="s", payload=b"plain text").payload == "plain text"


def test_a_letter_over_a_queue_limit_keeps_the_head_and_says_how_big_the_whole_was() -> None:
    payload = {"blob": "x" * 300_000}
    letter = DeadLetter(reason="r", error="E", source="sqs", payload=payload)
    fitted = letter.fitted(256 * 1024)
    assert len(fitted.to_json(ascii_only=True)) <= 256 * 1024
    whole = json.dumps(payload, separators=(",", ":")).encode()
    assert fitted.truncated_from == len(whole)
    assert fitted.payload_sha256 == hashlib.sha256(whole).hexdigest()
    assert whole.startswith(base64.b64decode(fitted.payload))
    assert "cut to its first" in (fitted.payload_note or "")
    assert letter.fitted(10 * 1024 * 1024) is letter  # fits: unchanged


def test_the_memory_sink_takes_poison_too() -> None:
    sink = MemoryDeadLetters()
    sink.send(DeadLetter(reason="r", error="E", source="s", payload=POISON["deep_990"]))
    assert sink.letters[0].payload_encoding == "base64"
