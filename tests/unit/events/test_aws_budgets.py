"""AWS Budgets notifications (SNS): what the message says becomes budget_exceeded / budget_warning, and the
default severity rules grade it like the Azure and GCP budget alerts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escher.events import EventType, NormalizationError, Severity, normalize, resolve
from escher.rules import RuleSet
from tests.unit.events._samples import sample

NAME = "budgets_sns_actual_245_percent"


def notification(**replace: str) -> dict[str, Any]:
    """The sample with message lines replaced, e.g. ``notification(**{"ACTUAL Amount": "$150.00"})``."""
    payload: dict[str, Any] = copy.deepcopy(sample("aws", NAME))
    for label, value in replace.items():
        lines = payload["Message"].split("\n")
        payload["Message"] = "\n".join(
            f"{label}: {value}" if line.startswith(f"{label}:") else line for line in lines
        )
    return payload


def test_actual_spend_over_200_percent_is_critical_by_the_default_rule() -> None:
    event = normalize(notification())
    assert (event.event_type, event.resource.metadata["percent_used"]) == (EventType.budget_exceeded, 245.3)
    decision = RuleSet().decide(event)
    assert (decision.severity, decision.rule) == (Severity.CRITICAL, "budget exceeded 200%")
    assert "metadata.percent_used = 245.3" in decision.explanation


@pytest.mark.parametrize(
    ("actual", "event_type", "severity", "rule"),
    [
        ("$199.99", EventType.budget_exceeded, Severity.HIGH, "cost spike"),
        ("$1,250.00", EventType.budget_exceeded, Severity.CRITICAL, "budget exceeded 200%"),
        ("$80.00", EventType.budget_warning, Severity.MEDIUM, "budget threshold approaching"),
    ],
)
def test_the_actual_amount_decides_type_and_severity(
    actual: str, event_type: EventType, severity: Severity, rule: str
) -> None:
    event = normalize(notification(**{"ACTUAL Amount": actual}))
    decision = RuleSet().decide(event)
    assert (event.event_type, decision.severity, decision.rule) == (event_type, severity, rule)


def test_a_forecast_over_budget_is_a_warning_with_no_spend_claimed() -> None:
    payload = notification(**{"Alert Type": "FORECASTED"})
    payload["Message"] = payload["Message"].replace("ACTUAL Amount: $245.30", "FORECASTED Amount: $310.00")
    event = normalize(payload)
    meta = event.resource.metadata
    assert event.event_type is EventType.budget_warning and event.context.cost_impact == 0.0
    assert (meta["percent_used"], meta["percent_forecasted"], meta["forecasted_spend"]) == (
        None,
        310.0,
        310.0,
    )
    assert RuleSet().decide(event).severity is Severity.MEDIUM  # never the 200 % rule: nothing is spent yet


def test_the_lambda_sns_event_normalizes_to_the_same_event() -> None:
    inner = sample("aws", NAME)
    lambda_event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": inner}]}
    direct, wrapped = normalize(inner), normalize(lambda_event)
    assert wrapped.model_dump(exclude={"raw_event"}) == direct.model_dump(exclude={"raw_event"})
    assert wrapped.raw_event == lambda_event and resolve(lambda_event).key == "aws.budgets.notification"


def test_other_sns_messages_are_generic_events_of_the_topic() -> None:
    payload = sample("aws", NAME)
    payload["Message"] = '{"AlarmName": "cpu-high"}'
    assert resolve(payload).key == "aws.sns.generic"
    event = normalize(payload)
    assert (event.event_type, event.resource.name) == (EventType.generic, "escher-budget-alerts")


@pytest.mark.parametrize(
    ("replace", "problem"),
    [
        ({"Budget Name": ""}, "Budget Name"),
        ({"Budgeted Amount": "$0.00"}, "greater than zero"),
        ({"Budgeted Amount": "n/a"}, "has no amount"),
        ({"Alert Type": "MAYBE"}, "ACTUAL or FORECASTED"),
    ],
)
def test_a_budget_message_without_what_it_needs_is_a_typed_error(
    replace: dict[str, str], problem: str
) -> None:
    with pytest.raises(NormalizationError) as info:
        normalize(notification(**replace))
    assert info.value.field == "Message" and problem in info.value.message
    assert info.value.source_kind == "SNS AWS Budgets notification"


def test_a_lambda_event_with_several_records_is_refused() -> None:
    inner = sample("aws", NAME)
    with pytest.raises(NormalizationError, match="holds 2 records"):
        normalize({"Records": [{"EventSource": "aws:sns", "Sns": inner}] * 2})


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["Budget Name", "Budgeted Amount", "Alert Type", "ACTUAL Amount", "Alert Threshold"]),
    st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t),
)
def test_any_value_on_a_known_line_gives_an_event_or_the_typed_error(label: str, value: str) -> None:
    try:
        event = normalize(notification(**{label: value}))
    except NormalizationError as exc:
        assert exc.field == "Message" and exc.source_kind == "SNS AWS Budgets notification"
    else:
        assert event.event_type in (EventType.budget_exceeded, EventType.budget_warning)


def test_an_amount_too_large_for_a_float_is_refused_not_infinite() -> None:
    with pytest.raises(NormalizationError, match="has no amount"):
        normalize(notification(**{"ACTUAL Amount": "$" + "9" * 400}))
