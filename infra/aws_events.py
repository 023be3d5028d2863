"""AWS event wiring generated from the normalizers: which EventBridge patterns reach the worker, in which regions.

Each normalizer in ``escher.events`` (``aws.*``) answers to routes such as ``aws.s3|AWS API Call via
CloudTrail|PutBucketAcl`` or ``aws.rds|RDS DB Instance Event``; the rules here match exactly those routes and
nothing else, so the worker is not invoked (and writes nothing) for events no normalizer reads.

- CloudTrail API calls reach EventBridge only from a trail that is logging (a multi-region trail covers every
  region); the preflight (``escher extend aws --check``) checks it. The pattern excludes the worker's own
  role (``userIdentity.arn`` anything-but prefix ``arn:aws:sts::<account>:assumed-role/<role>/``): its fixes are
  API calls too, and matching them is the loop the EventBridge guide warns about. Calls without a
  ``userIdentity.arn`` (AWS services acting for themselves) do not match either.
- A Lambda target must be in the rule's region: in every other enabled region the rules forward to the home
  region's default event bus (cross-Region routing, a role with ``events:PutEvents`` on that bus), where the
  same rules invoke the worker.
- AWS Budgets sends threshold alerts to SNS only: the worker is subscribed to a topic Budgets may publish to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["CLOUDTRAIL", "EventRule", "event_rules", "kind_of_route", "worker_exclusion"]

CLOUDTRAIL = "AWS API Call via CloudTrail"
# routes a rule can never deliver on its own: the failed-call route comes with every CloudTrail rule
# (a call with errorCode), the generic ones ("*") are fallbacks for what arrives anyway
DERIVED_ROUTES = {"cloudtrail|failed"}
# EventBridge source -> the event kind ([extend] events) that enables it
SOURCE_KINDS: dict[str, str] = {
    "aws.cloudwatch": "alarms",
    "aws.guardduty": "threat_findings",
    "aws.securityhub": "security_findings",
    "aws.health": "health",
    "aws.ce": "budgets",
    "aws.ec2": "resource_events",
    "aws.rds": "resource_events",
}
SNS_KINDS: dict[str, str] = {"budgets.notification": "budgets"}


@dataclass(frozen=True)
class EventRule:
    """One EventBridge rule: its name suffix, the event kind that enables it, and its pattern."""

    name: str
    kind: str
    pattern: dict[str, Any]


def kind_of_route(route: str) -> str | None:
    """The event kind of a normalizer route; None for a fallback or derived route."""
    if "*" in route or route in DERIVED_ROUTES:
        return None
    if route in SNS_KINDS:
        return SNS_KINDS[route]
    parts = route.split("|")
    if len(parts) == 3 and parts[1] == CLOUDTRAIL:
        return "api_calls"
    return SOURCE_KINDS.get(parts[0])


def _routes() -> list[tuple[str, str]]:
    """(normalizer key, route) of every AWS EventBridge normalizer."""
    from escher.events._base import NORMALIZERS

    return [
        (key, route)
        for key, entry in NORMALIZERS.items("aws.")
        if entry.envelope == "eventbridge"
        for route in entry.routes
        if kind_of_route(route) is not None
    ]


def worker_exclusion(account: str, role_name: str) -> dict[str, Any]:
    """The ``detail`` filter that leaves out the worker's own calls (its role's sessions)."""
    prefix = f"arn:aws:sts::{account}:assumed-role/{role_name}/"
    return {"userIdentity": {"arn": [{"anything-but": {"prefix": prefix}}]}}


def event_rules(kinds: Iterable[str], *, account: str, role_name: str) -> list[EventRule]:
    """The rules for the enabled ``kinds``: one per CloudTrail service, one per other source."""
    enabled = set(kinds)
    api_calls: dict[str, set[str]] = {}
    others: dict[str, set[str]] = {}
    for _key, route in _routes():
        kind = kind_of_route(route)
        if kind not in enabled:
            continue
        source, detail_type, *name = route.split("|")
        if name:
            api_calls.setdefault(source, set()).add(name[0])
        else:
            others.setdefault(source, set()).add(detail_type)
    rules: list[EventRule] = []
    for source, names in sorted(api_calls.items()):
        service = source.split(".", 1)[1]
        detail = {
            "eventSource": [f"{service}.amazonaws.com"],
            "eventName": sorted(names),
            **worker_exclusion(account, role_name),
        }
        pattern = {"source": [source], "detail-type": [CLOUDTRAIL], "detail": detail}
        rules.append(EventRule(f"api-{service}", "api_calls", pattern))
    for source, types in sorted(others.items()):
        kind = SOURCE_KINDS[source]
        rules.append(
            EventRule(source.split(".", 1)[1], kind, {"source": [source], "detail-type": sorted(types)})
        )
    return rules


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for the subset the rules use: lists of values, nested objects, anything-but
    prefix (a field the pattern names must be present)."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not matches(wanted, value):
                return False
            continue
        if not any(_one(w, value) for w in wanted):
            return False
    return True


def _one(wanted: Any, value: Any) -> bool:
    if isinstance(wanted, dict) and "anything-but" in wanted:
        but = wanted["anything-but"]
        if isinstance(but, dict) and "prefix" in but:
            return isinstance(value, str) and not value.startswith(but["prefix"])
        return bool(value not in (but if isinstance(but, list) else [but]))
    return bool(wanted == value)


# -- the Pulumi side ---------------------------------------------------------------------------------------
@dataclass
class Wired:
    rule_names: list[str]
    budgets_topic: Any  # pulumi.Output[str] | None


def _policy(statement: dict[str, Any]) -> str:
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def wire_events(scope: Any, spec: Any, *, worker: Any, account: Any) -> Wired:
    """Rules in the home region invoke the worker (:class:`escher.infra.parts.aws.Worker`); the other watched
    regions forward to the home bus. ``scope`` is the part's :class:`escher.infra.component.Scope`."""
    import json

    import pulumi

    # the rules' names do not depend on the account: the patterns (which do) are filled in per rule
    names = [r.name for r in event_rules(spec.events, account="0", role_name="r")]

    def pattern_of(name: str) -> Any:
        return pulumi.Output.all(account, worker.role_name).apply(
            lambda a: json.dumps(_rule_pattern(spec.events, a[0], a[1], name))
        )

    patterns = {name: pattern_of(name) for name in names}
    rule_arns = _home_rules(scope, spec, patterns, worker=worker)
    others = [r for r in spec.watched_regions if r != spec.region]
    if names and others:
        _forwarders(scope, spec, patterns, others, account=account)
    if rule_arns:
        _dead_letters_from_events(scope, worker, rule_arns)
    topic = _budgets_topic(scope, spec, worker=worker, account=account) if "budgets" in spec.events else None
    return Wired([f"events-{n}" for n in names], topic)


def _tags(spec: Any) -> dict[str, str]:
    return {"escher": "extend", "escher-stack": spec.name_prefix}


def _home_rules(scope: Any, spec: Any, patterns: dict[str, Any], *, worker: Any) -> list[Any]:
    """One rule per pattern in the home region, each invoking the worker (dead letters to its queue)."""
    import pulumi_aws.cloudwatch as cloudwatch
    import pulumi_aws.lambda_ as lambda_

    opts = scope.opts()
    rule_arns: list[Any] = []
    for name, pattern in patterns.items():
        rule = cloudwatch.EventRule(f"events-{name}", event_pattern=pattern, tags=_tags(spec), opts=opts)
        rule_arns.append(rule.arn)
        cloudwatch.EventTarget(
            f"events-{name}-target",
            rule=rule.name,
            arn=worker.arn,
            retry_policy=cloudwatch.EventTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=24 * 3600, maximum_retry_attempts=185
            ),
            dead_letter_config=cloudwatch.EventTargetDeadLetterConfigArgs(arn=worker.dead_letter_arn),
            opts=opts,
        )
        lambda_.Permission(
            f"events-{name}-invoke",
            action="lambda:InvokeFunction",
            function=worker.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=opts,
        )
    return rule_arns


def _forwarders(scope: Any, spec: Any, patterns: dict[str, Any], others: list[str], *, account: Any) -> None:
    """In every other watched region, the same rules forward to the home region's default bus."""
    import pulumi
    import pulumi_aws as aws
    import pulumi_aws.cloudwatch as cloudwatch
    import pulumi_aws.iam as iam

    opts, tags = scope.opts(), _tags(spec)
    home_bus = pulumi.Output.concat("arn:aws:events:", spec.region, ":", account, ":event-bus/default")
    forwarder = iam.Role(
        "events-forwarder",
        assume_role_policy=_policy(
            {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
        tags=tags,
        opts=opts,
    )
    iam.RolePolicy(
        "events-forwarder-policy",
        role=forwarder.id,
        policy=home_bus.apply(
            lambda bus: _policy({"Effect": "Allow", "Action": ["events:PutEvents"], "Resource": [bus]})
        ),
        opts=opts,
    )
    for region in others:
        provider = aws.Provider(f"region-{region}", region=region, opts=opts)
        in_region = scope.opts(provider=provider)
        for name, pattern in patterns.items():
            rule = cloudwatch.EventRule(
                f"events-{name}-{region}", event_pattern=pattern, tags=tags, opts=in_region
            )
            cloudwatch.EventTarget(
                f"events-{name}-{region}-forward",
                rule=rule.name,
                arn=home_bus,
                role_arn=forwarder.arn,
                opts=in_region,
            )


def _dead_letters_from_events(scope: Any, worker: Any, rule_arns: list[Any]) -> None:
    """EventBridge may send what it could not deliver to the worker's dead-letter queue (from these rules)."""
    import pulumi
    import pulumi_aws.sqs as sqs

    sqs.QueuePolicy(
        "dead-letters-from-events",
        queue_url=worker.dead_letter_queue,
        policy=pulumi.Output.all(worker.dead_letter_arn, *rule_arns).apply(
            lambda a: _policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["sqs:SendMessage"],
                    "Resource": [a[0]],
                    "Condition": {"ArnEquals": {"aws:SourceArn": list(a[1:])}},
                }
            )
        ),
        opts=scope.opts(),
    )


def _rule_pattern(kinds: Iterable[str], account: str, role_name: str, name: str) -> dict[str, Any]:
    [rule] = [r for r in event_rules(kinds, account=account, role_name=role_name) if r.name == name]
    return rule.pattern


def _budgets_topic(scope: Any, spec: Any, *, worker: Any, account: Any) -> Any:
    """AWS Budgets -> SNS -> the worker (the SNS record is normalized as ``aws.budgets.notification``)."""
    import pulumi
    import pulumi_aws.lambda_ as lambda_
    import pulumi_aws.sns as sns

    opts = scope.opts()
    topic = sns.Topic("budgets", tags=_tags(spec), opts=opts)
    sns.TopicPolicy(
        "budgets-may-publish",
        arn=topic.arn,
        policy=pulumi.Output.all(topic.arn, account).apply(
            lambda a: _policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "SNS:Publish",
                    "Resource": a[0],
                    "Condition": {"StringEquals": {"aws:SourceAccount": a[1]}},
                }
            )
        ),
        opts=opts,
    )
    lambda_.Permission(
        "budgets-invoke",
        action="lambda:InvokeFunction",
        function=worker.name,
        principal="sns.amazonaws.com",
        source_arn=topic.arn,
        opts=opts,
    )
    sns.TopicSubscription(
        "budgets-to-worker", topic=topic.arn, protocol="lambda", endpoint=worker.arn, opts=opts
    )
    return topic.arn
