"""AWS Budgets notifications delivered through Amazon SNS.

AWS Budgets sends no native EventBridge event (only CloudTrail records of Budgets API calls); its alerts are
published to an SNS topic. The SNS notification arrives as JSON (HTTPS subscription, an SQS message body, or a
Lambda ``Records[0].Sns``), and its ``Message`` is plain text, not JSON::

    AWS Budget Notification May 02, 2024
    AWS Account 123456789012
    ...
    Budget Name: shop-monthly
    Budget Type: Cost
    Budgeted Amount: $100.00
    Alert Type: ACTUAL
    Alert Threshold: > $200.00
    ACTUAL Amount: $245.30

The ``Key: Value`` lines are read; the prose around them is not. Routes: ``budgets.notification`` when the
message starts with "AWS Budget Notification", else the generic SNS entry (``*``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from escher.events._base import Envelope, make_event, normalizer, parse_time
from escher.events._fields import Fields
from escher.events.model import CloudProvider, EventType, UnifiedEvent

__all__ = ["PARSERS"]

_SNS = "sns"
_SNS_DOC = "https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html"
_BUDGET_PREFIX = "AWS Budget Notification"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def parse_sns(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "SNS notification")
    if "Records" in data:  # a Lambda SNS event: one record per invocation
        records = top.objs("Records")
        if len(records) != 1:
            raise top.fail("Records", f"holds {len(records)} records; SNS invokes Lambda with one")
        top = records[0].obj("Sns")
    message = top.text("Message")
    topic = top.opt_str("TopicArn")
    topic_parts = topic.split(":")
    env = Envelope(
        envelope=_SNS,
        cloud=CloudProvider.aws,
        # SNS keeps the MessageId on retries, so it is the idempotency key of every redelivery
        event_id=top.text("MessageId"),
        account_id=topic_parts[4] if len(topic_parts) > 5 and topic_parts[4] else "unknown",
        region=topic_parts[3] if len(topic_parts) > 5 and topic_parts[3] else "global",
        time=parse_time(top.data.get("Timestamp"), top.kind, lambda: top.where("Timestamp")),
        body=top.data,
        raw=data,
        meta={"topic": topic, "subject": top.opt_str("Subject")},
    )
    return env, ("budgets.notification",) if message.lstrip().startswith(_BUDGET_PREFIX) else ("*",)


PARSERS = {"sns": parse_sns}


def _read(message: str) -> tuple[dict[str, str], str]:
    """The ``Key: Value`` lines from ``Budget Name:`` on (keys lower-cased), and the ``AWS Account N``.

    Only the block that holds the facts is split: the prose before it is never read, and a key is at most 40
    letters and spaces, so the console link after it is not one.
    """
    lines: dict[str, str] = {}
    at = message.find("Budget Name:")
    for line in message[at:].splitlines() if at >= 0 else ():
        key, sep, value = line.partition(":")
        key = key.strip()
        if sep and 0 < len(key) <= 40 and key.replace(" ", "").isalpha():
            lines[key.lower()] = value.strip()
    at = message.find("AWS Account ")
    account = message[at + 12 : at + 24] if at >= 0 else ""
    return lines, account if len(account) == 12 and account.isdigit() else ""


def _amount(d: Fields, lines: dict[str, str], label: str) -> float | None:
    text = lines.get(label.lower())
    if text is None:
        return None
    found = _NUMBER.search(text)
    number = float(found.group().replace(",", "")) if found else math.nan
    if not math.isfinite(number):
        raise d.fail("Message", f"line '{label}: {text[:40]}' has no amount")
    return number


@normalizer(
    "aws.budgets.notification",
    source_kind="SNS AWS Budgets notification",
    envelope=_SNS,
    routes=("budgets.notification",),
    docs=_SNS_DOC,
    event_types=(EventType.budget_exceeded, EventType.budget_warning),
)
def budget_notification(env: Envelope, d: Fields) -> UnifiedEvent:
    message = d.text("Message")
    lines, account = _read(message)
    name = lines.get("budget name")
    if not name:
        raise d.fail("Message", "has no 'Budget Name:' line (is this an AWS Budgets notification?)")
    budget = _amount(d, lines, "Budgeted Amount")
    if budget is None or budget <= 0:
        raise d.fail("Message", "needs a 'Budgeted Amount:' greater than zero")
    alert_type = lines.get("alert type", "ACTUAL").upper()
    if alert_type not in ("ACTUAL", "FORECASTED"):
        raise d.fail(
            "Message", f"has 'Alert Type: {alert_type[:20]}'; AWS Budgets sends ACTUAL or FORECASTED"
        )
    amount = _amount(d, lines, f"{alert_type} Amount")
    if amount is None:
        raise d.fail("Message", f"has no '{alert_type} Amount:' line")
    percent = round(amount / budget * 100, 2)
    actual = alert_type == "ACTUAL"
    overrun = round(max(amount - budget, 0.0), 2) if actual else 0.0
    account = account or env.account_id
    return make_event(
        env,
        # a forecast over the budget is a warning: nothing is spent yet, so percent_used stays unset
        event_type=EventType.budget_exceeded if actual and percent >= 100 else EventType.budget_warning,
        resource_type="AWS::Budgets::Budget",
        resource_id=f"arn:aws:budgets::{account}:budget/{name}",
        name=name,
        account_id=account,
        region="global",
        cost_impact=overrun,
        metadata={
            "budget_amount": budget,
            "actual_spend": amount if actual else None,
            "forecasted_spend": None if actual else amount,
            "percent_used": percent if actual else None,
            "percent_forecasted": None if actual else percent,
            "overrun_amount": overrun,
            "currency": "USD" if "$" in lines.get("budgeted amount", "") else "",
            "threshold": _amount(d, lines, "Alert Threshold"),
            "alert_type": alert_type,
            "budget_type": lines.get("budget type", ""),
            "topic_arn": env.meta["topic"],
        },
    )


@normalizer(
    "aws.sns.generic",
    source_kind="SNS notification",
    envelope=_SNS,
    routes=("*",),
    docs=_SNS_DOC,
    event_types=(EventType.generic,),
)
def sns_generic(env: Envelope, d: Fields) -> UnifiedEvent:
    topic = env.meta["topic"] or "unknown-topic"
    return make_event(
        env,
        event_type=EventType.generic,
        resource_type="AWS::SNS::Topic",
        resource_id=topic,
        name=topic.rsplit(":", 1)[-1],
        metadata={"subject": env.meta["subject"]},
    )
