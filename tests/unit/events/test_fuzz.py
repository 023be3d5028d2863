"""Property: whatever is wrong with a payload, normalize() returns an event or raises NormalizationError naming
the source kind and the field; never another exception.

Each sample is mutated (keys deleted, values replaced by arbitrary JSON) at any depth; Pub/Sub samples are
mutated inside the base64 message data too, so the GCP normalizers are reached, not only the envelope.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escher.events import NormalizationError, UnifiedEvent, normalize
from tests.unit.events._samples import load, sample_paths

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
Path_ = tuple[str | int, ...]


def _paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _mutate(doc: Any, path: Path_, action: str, replacement: Any) -> None:
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    else:
        parent[last] = replacement


def _inner(payload: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
    """The Pub/Sub message holder and its decoded data, if this is a Pub/Sub sample with JSON data."""
    holder = payload.get("message") or (payload.get("data") or {}).get("message")
    if isinstance(holder, dict) and "data" in holder:
        try:
            return holder, json.loads(base64.b64decode(holder["data"]))
        except ValueError:
            return None, None
    return None, None


def _assert_only_typed_errors(payload: Any) -> None:
    try:
        event = normalize(payload)
    except NormalizationError as exc:
        assert exc.source_kind and exc.field, exc
        assert exc.source_kind in exc.message and exc.field in exc.message
    else:
        # whatever is produced is a valid event: a dump re-validates to the same event
        assert UnifiedEvent.model_validate(event.model_dump()) == event


@st.composite
def mutated(draw: st.DrawFn, path: Path) -> Any:
    payload = copy.deepcopy(load(path))
    holder, data = _inner(payload)
    target = data if holder is not None and draw(st.booleans()) else payload
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(target)
        if not paths:
            break
        chosen = draw(st.sampled_from(paths))
        _mutate(target, chosen, draw(st.sampled_from(["delete", "replace"])), draw(JSON))
    if holder is not None and target is data:
        holder["data"] = base64.b64encode(json.dumps(data).encode()).decode()
    return payload


@pytest.mark.parametrize("path", sample_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_mutated_samples_raise_only_normalization_error(path: Path) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated(path))
    def check(payload: Any) -> None:
        _assert_only_typed_errors(payload)

    check()


@settings(max_examples=200, deadline=None)
@given(JSON | st.binary(max_size=64) | st.text(max_size=64))
def test_arbitrary_input_raises_only_normalization_error(payload: Any) -> None:
    _assert_only_typed_errors(payload)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["eventbridge", "eventgrid", "monitor", "pubsub", "sns"]),
    st.dictionaries(st.text(max_size=10), JSON, max_size=4),
)
def test_arbitrary_bodies_inside_real_envelopes(kind: str, body: dict[str, Any]) -> None:
    envelopes = {
        "eventbridge": {
            "id": "1",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.s3",
            "account": "1",
            "time": "2024-01-01T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": body,
        },
        "eventgrid": {
            "id": "1",
            "eventType": "Microsoft.Resources.ResourceWriteSuccess",
            "subject": "/x",
            "eventTime": "2024-01-01T00:00:00Z",
            "data": body,
        },
        "monitor": {"schemaId": "azureMonitorCommonAlertSchema", "data": body},
        "pubsub": {
            "subscription": "projects/p/subscriptions/s",
            "message": {
                "messageId": "1",
                "publishTime": "2024-01-01T00:00:00Z",
                "data": base64.b64encode(json.dumps({"protoPayload": body}).encode()).decode(),
            },
        },
        # an AWS Budgets message whose "Key: Value" lines are the arbitrary body's keys and values
        "sns": {
            "Type": "Notification",
            "MessageId": "1",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "Timestamp": "2024-01-01T00:00:00Z",
            "Message": "AWS Budget Notification\nBudget Name: b\n"
            + "\n".join(f"{k}: {v}" for k, v in body.items()),
        },
    }
    _assert_only_typed_errors(envelopes[kind])
