"""The AWS program against the documentation and the worker: the schedule's payload starts the job, every
normalizer's events are routed (in every watched region) and nothing else is, the worker's own calls are not,
Budgets reaches the worker through SNS, and destroy leaves the retained audit bucket protected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from escher.events._base import NORMALIZERS
from escher.infra.aws_events import CLOUDTRAIL, kind_of_route, matches
from escher.infra.spec import EVENT_KINDS
from tests.functional.infra.conftest import make_spec, run_under_mocks
from tests.functional.workers.conftest import LambdaContext, worker_config  # noqa: F401  (a fixture)

pulumi = pytest.importorskip("pulumi")

T_RULE = "aws:cloudwatch/eventRule:EventRule"
ACCOUNT = "123456789012"  # the mocks' caller identity
WORKER_ROLE = "worker-role-mock"  # the mocks name an autonamed resource <name>-mock


def _event(route: str, *, caller: str = f"arn:aws:iam::{ACCOUNT}:user/alice") -> dict[str, Any]:
    """An EventBridge event that the normalizers would route to ``route``."""
    source, detail_type, *name = route.split("|")
    detail: dict[str, Any] = {}
    if detail_type == CLOUDTRAIL:
        detail = {
            "eventSource": f"{source.split('.', 1)[1]}.amazonaws.com",
            "eventName": name[0],
            "userIdentity": {"arn": caller},
        }
    return {"source": source, "detail-type": detail_type, "detail": detail, "region": "eu-west-1"}


def _rules(d: Any, region_suffix: str = "") -> dict[str, dict[str, Any]]:
    found = {r.name: json.loads(r.inputs["eventPattern"]) for r in d.of_type(T_RULE)}
    if region_suffix:
        return {k: v for k, v in found.items() if k.endswith(region_suffix)}
    return found


def _eventbridge_routes() -> list[str]:
    return [
        route
        for _, n in NORMALIZERS.items("aws.")
        if n.envelope == "eventbridge"
        for route in n.routes
        if kind_of_route(route) is not None
    ]


def test_every_normalizer_route_is_routed_and_nothing_else_is(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, events=EVENT_KINDS))
    patterns = list(_rules(d).values())
    routes = _eventbridge_routes()
    assert len(routes) >= 12  # the test has teeth: RDS, EC2 state changes, alarms, CloudTrail ...
    unrouted = [r for r in routes if not any(matches(p, _event(r)) for p in patterns)]
    assert not unrouted, f"normalizer routes no rule delivers: {unrouted}"
    # nothing the normalizers only catch generically
    generic = [
        "aws.s3|AWS API Call via CloudTrail|GetObject",
        "aws.iam|AWS API Call via CloudTrail|CreateUser",
        "aws.ec2|EBS Volume Notification",
        "aws.signin|AWS Console Sign In via CloudTrail",
    ]
    delivered = [g for g in generic if any(matches(p, _event(g)) for p in patterns)]
    assert not delivered, f"routed although no normalizer reads them: {delivered}"
    # every listed event name is one a normalizer answers to
    for p in patterns:
        for name in p.get("detail", {}).get("eventName", []):
            assert f"{p['source'][0]}|{CLOUDTRAIL}|{name}" in routes


def test_the_workers_own_calls_are_not_routed(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, events=("api_calls",)))
    patterns = list(_rules(d).values())
    route = "aws.s3|AWS API Call via CloudTrail|PutBucketAcl"
    own = f"arn:aws:sts::{ACCOUNT}:assumed-role/{WORKER_ROLE}/escher-worker"
    assert any(matches(p, _event(route)) for p in patterns)
    assert not any(matches(p, _event(route, caller=own)) for p in patterns)
    assert "CloudTrail trail" in " ".join(d.outputs["requirements"])


def test_rules_are_in_every_watched_region_and_forward_to_the_home_bus(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, regions=("eu-west-1", "us-east-1", "eu-central-1")))
    home = {k: v for k, v in _rules(d).items() if not k.endswith(("-us-east-1", "-eu-central-1"))}
    for region in ("us-east-1", "eu-central-1"):
        there = _rules(d, f"-{region}")
        assert {k.removesuffix(f"-{region}") for k in there} == set(home)
        assert list(there.values()) == list(home.values())
        providers = [
            r for r in d.resources if r.type == "pulumi:providers:aws" and r.name == f"region-{region}"
        ]
        assert len(providers) == 1 and providers[0].inputs["region"] == region
    forwards = [t for t in d.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.name.endswith("-forward")]
    assert forwards and all(
        t.inputs["arn"] == f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/default" for t in forwards
    )
    assert d.outputs["watched_regions"] == ["eu-west-1", "us-east-1", "eu-central-1"]


def test_budgets_alerts_reach_the_worker_through_sns(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, events=("budgets",)))
    sub = d.one("aws:sns/topicSubscription:TopicSubscription", "budgets-to-worker")
    assert sub["protocol"] == "lambda" and sub["endpoint"] == "arn:aws:mock:::worker"
    invoke = d.one("aws:lambda/permission:Permission", "budgets-invoke")
    assert invoke["principal"] == "sns.amazonaws.com" and invoke["sourceArn"] == "arn:aws:mock:::budgets"
    policy = json.loads(d.one("aws:sns/topicPolicy:TopicPolicy", "budgets-may-publish")["policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert d.outputs["budgets_topic"] == "arn:aws:mock:::budgets"
    none = run_under_mocks(make_spec("aws", bundle, events=("alarms",)))
    assert not none.of_type("aws:sns/topicSubscription:TopicSubscription")


def test_destroy_leaves_the_retained_audit_bucket_private_and_encrypted(bundle: str) -> None:
    retained: dict[str, bool] = {}

    def note(args: Any) -> None:
        retained[args.name] = bool(args.opts and args.opts.retain_on_delete)

    from tests.harness.pulumi_mocks import install_mocks

    recorder = install_mocks()

    @pulumi.runtime.test
    def program() -> Any:
        from escher.infra.program import declare

        pulumi.runtime.register_stack_transformation(note)
        return declare(make_spec("aws", bundle, events=("alarms",))).urn

    try:
        program()
    finally:
        pulumi.runtime.settings.reset_options()
    assert recorder.resources
    for name in ("audit", "audit-object-lock", "audit-public-access", "audit-encryption", "audit-versioning"):
        assert retained[name], f"{name} is deleted on destroy while the audit bucket stays"
    assert not retained["state-public-access"]  # the state bucket goes, and its settings with it


def test_generic_events_have_an_expiring_log_in_the_state_bucket(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, events_log_days=14))
    rule = d.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "state-events-log-expiry"
    )
    [r] = rule["rules"]
    assert r["filter"] == {"prefix": "events-log/"} and r["expiration"] == {"days": 14}
    env = d.one("aws:lambda/function:Function", "worker")["environment"]["variables"]
    assert env["ESCHER_EVENTS_LOG_PREFIX"] == "events-log/" and env["ESCHER_EVENTS_LOG_DAYS"] == "14"


def test_the_schedules_payload_starts_the_daily_job_in_the_handler(
    bundle: str,
    aws_env: Any,
    worker_config: Path,  # noqa: F811  (the imported fixture)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reproduced: the schedule sent {"escher": {"job": ...}}, which the handler dead-letters every day."""
    import boto3

    from escher.workers.aws.handler import handler

    d = run_under_mocks(make_spec("aws", bundle, events=("alarms",)))
    payload = json.loads(d.one("aws:scheduler/schedule:Schedule", "daily-scan")["target"]["input"])
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="state-policy-test")
    boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="dead-policy-test")
    monkeypatch.setenv("ESCHER_STATE_URL", "s3://state-policy-test")
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", "sqs://dead-policy-test")
    result = handler(payload, LambdaContext())
    assert result.get("job") == "daily_scan", result
