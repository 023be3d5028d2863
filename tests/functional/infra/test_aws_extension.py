"""escher:aws:Extension under Pulumi mocks: what it declares, with which settings, and least privilege."""

from __future__ import annotations

import json
from typing import Any

import pytest

from escher.infra.permissions import FALLBACK_OPERATIONS, policy_actions
from escher.infra.plan import SECRET_SIG, SIG_KEY
from escher.infra.program import declare
from escher.scans.collect.permissions import scan_permissions
from tests.functional.infra.conftest import make_spec, run_under_mocks
from tests.harness.pulumi_mocks import Recorder

pulumi = pytest.importorskip("pulumi")

T_BUCKET = "aws:s3/bucket:Bucket"
STATE_ACTIONS = {
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "ssm:GetParameter",
    "ssm:GetParametersByPath",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:GetQueueUrl",
    "sqs:SendMessage",
}


def test_state_and_audit_buckets_are_private_encrypted_versioned_and_locked(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, audit_lock_mode="compliance"))
    buckets = {r.name: r.inputs for r in d.of_type(T_BUCKET)}
    assert set(buckets) == {"state", "audit"}
    assert buckets["audit"]["objectLockEnabled"] is True
    for name in ("state", "audit"):
        pab = d.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-public-access")
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        assert all(pab[k] is True for k in flags)
        enc = d.one(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{name}-encryption",
        )
        assert enc["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
        versioning = d.one("aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning")
        assert versioning["versioningConfiguration"]["status"] == "Enabled"
    lock = d.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "audit-object-lock")
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 400}
    assert {"state_bucket", "audit_bucket", "worker_policy"} <= set(d.outputs)


def test_every_resource_is_a_child_of_the_component(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle))
    assert len(d.of_type("escher:aws:Extension")) == 1
    # the Extension is made of parts (escher:aws:StateStore ...): every resource is a child of one part, and
    # every part a child of the Extension (tests/functional/infra/test_parts.py names them)
    parts = {k: p for k, p in d.parents.items() if k.startswith("escher:aws:") and ":Extension::" not in k}
    children = {k: p for k, p in d.parents.items() if not k.startswith("escher:")}
    assert len(children) == len(d.resources) - 1 - len(parts)
    assert set(parts.values()) == {"escher:aws:Extension"}
    assert set(children.values()) == {k.split("::")[0] for k in parts}


def test_credentials_are_secure_strings_whose_values_stay_out_of_state(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle))
    params = {r.name: r.inputs for r in d.of_type("aws:ssm/parameter:Parameter")}
    assert set(params) == {"credential-azure", "credential-gcp"}
    for inputs in params.values():
        assert inputs["type"] == "SecureString" and inputs["tier"] == "Standard"
        assert inputs["name"].startswith("/escher/credentials/")
        # a secret placeholder: the driver writes the real value with the SDK, never through Pulumi
        assert inputs["value"][SIG_KEY] == SECRET_SIG
        assert inputs["value"]["value"].startswith("unset")


def test_one_dispatcher_lambda_with_dead_letters_logs_and_the_daily_schedule(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, log_retention_days=14, daily_scan_at="03:30"))
    functions = d.of_type("aws:lambda/function:Function")
    assert [f.name for f in functions] == ["worker"]
    fn = functions[0].inputs
    assert fn["handler"] == "escher.workers.aws.handler.handler"
    assert fn["runtime"] == "python3.12"
    assert fn["deadLetterConfig"]["targetArn"].endswith("dead-letters")
    assert fn["loggingConfig"]["logGroup"] == "/escher/worker"
    assert d.one("aws:cloudwatch/logGroup:LogGroup", "worker-logs")["retentionInDays"] == 14
    schedule = d.one("aws:scheduler/schedule:Schedule", "daily-scan")
    assert schedule["scheduleExpression"] == "cron(30 3 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["target"]["deadLetterConfig"]["arn"].endswith("dead-letters")
    assert len(d.of_type("aws:scheduler/scheduleGroup:ScheduleGroup")) == 1
    # what `escher schedule add` needs to create the user's schedules in the same group, invoking the worker
    assert d.outputs["scheduler_role"] == schedule["target"]["roleArn"]
    assert d.outputs["worker_arn"] == schedule["target"]["arn"]


def test_a_small_bundle_is_uploaded_directly(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle))
    fn = d.one("aws:lambda/function:Function", "worker")
    assert "code" in fn and "s3Key" not in fn
    assert not d.of_type("aws:s3/bucketObjectv2:BucketObjectv2")


def test_a_bundle_over_50_mb_goes_through_the_state_bucket(tmp_path: Any) -> None:
    big = tmp_path / "worker.zip"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)  # sparse: one byte over Lambda's direct-upload limit
    d = run_under_mocks(make_spec("aws", str(big)))
    (package,) = d.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    assert package.inputs["key"].startswith("_deploy/worker-") and package.inputs["bucket"] == "state-id"
    fn = d.one("aws:lambda/function:Function", "worker")
    assert "code" not in fn and fn["s3Key"] == package.inputs["key"] and fn["s3Bucket"]


def test_one_rule_per_enabled_event_kind_and_no_sns_unless_chosen(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, events=("alarms", "health"), notify_email=None))
    rules = {
        r.name: json.loads(r.inputs["eventPattern"]) for r in d.of_type("aws:cloudwatch/eventRule:EventRule")
    }
    assert rules == {
        "events-cloudwatch": {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]},
        "events-health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    }
    targets = d.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 2 and all("deadLetterConfig" in t.inputs for t in targets)
    assert d.of_type("aws:sns/topic:Topic") == []
    assert "sns:Publish" not in policy_actions(json.loads(d.outputs["worker_policy"]))


def test_notifications_add_a_topic_and_exactly_the_publish_permission(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle, notify_email="ops@example.com"))
    sub = d.one("aws:sns/topicSubscription:TopicSubscription", "notifications-email")
    assert sub["protocol"] == "email" and sub["endpoint"] == "ops@example.com"
    assert "sns:Publish" in policy_actions(json.loads(d.outputs["worker_policy"]))


def test_worker_policy_is_exactly_the_operations_plus_state_access(bundle: str) -> None:
    spec = make_spec("aws", bundle)
    d = run_under_mocks(spec)
    document = json.loads(d.outputs["worker_policy"])
    assert policy_actions(document) == set(scan_permissions("aws")) | STATE_ACTIONS
    statements = {s["Sid"]: s for s in document["Statement"]}
    catalogue = [
        a for sid, s in statements.items() if sid.startswith("CatalogueOperations") for a in s["Action"]
    ]
    assert sorted(catalogue) == list(spec.permissions)
    for sid in ("StateReadWrite", "StateList", "AuditAppend", "Credentials", "Logs", "DeadLetter"):
        assert all(r != "*" for r in statements[sid]["Resource"]), sid  # scoped to Escher's own resources
    assert json.loads(d.one("aws:iam/rolePolicy:RolePolicy", "worker-policy")["policy"]) == document


def test_enabling_one_more_operation_adds_exactly_its_permissions(bundle: str) -> None:
    base = ("aws.scan.daily_inventory",)
    before = policy_actions(
        json.loads(run_under_mocks(make_spec("aws", bundle, operations=base)).outputs["worker_policy"])
    )
    more = (*base, "aws.ec2.revoke_open_ingress")
    after = policy_actions(
        json.loads(run_under_mocks(make_spec("aws", bundle, operations=more)).outputs["worker_policy"])
    )
    assert after - before == set(FALLBACK_OPERATIONS["aws.ec2.revoke_open_ingress"]) - before
    assert after - before == {"ec2:RevokeSecurityGroupIngress"}


def test_no_wildcard_action_anywhere(bundle: str) -> None:
    d = run_under_mocks(
        make_spec(
            "aws",
            bundle,
            notify_email="ops@example.com",
            events=tuple(
                ("api_calls", "alarms", "threat_findings", "security_findings", "health", "budgets")
            ),
        )
    )
    actions: list[str] = []
    for r in d.resources:
        for key in ("policy", "assumeRolePolicy"):
            if isinstance(r.inputs.get(key), str):
                for statement in json.loads(r.inputs[key])["Statement"]:
                    action = statement["Action"]
                    actions.extend([action] if isinstance(action, str) else action)
        if r.type == "aws:lambda/permission:Permission":
            actions.append(r.inputs["action"])
    assert len(actions) > 20
    assert [a for a in actions if "*" in a] == []


@pulumi.runtime.test
def test_assertions_inside_apply_run_too(mocks: Recorder, bundle: str) -> Any:
    component = declare(make_spec("aws", bundle))
    return component.outputs["worker_policy"].apply(lambda p: _assert("s3:PutObject" in p))


def test_a_wrong_expectation_fails(mocks: Recorder, bundle: str) -> None:
    # the same pattern with a false expectation must fail: assertions inside apply really run
    @pulumi.runtime.test
    def wrong() -> Any:
        component = declare(make_spec("aws", bundle))
        return component.outputs["worker_policy"].apply(
            lambda p: _assert("*" in policy_actions(json.loads(p)))
        )

    with pytest.raises(AssertionError):
        wrong()


def test_a_wrong_expectation_on_recorded_resources_fails(bundle: str) -> None:
    d = run_under_mocks(make_spec("aws", bundle))
    with pytest.raises(AssertionError):
        d.one("aws:s3/bucket:Bucket", "no-such-bucket")


def _assert(condition: bool) -> None:
    assert condition
