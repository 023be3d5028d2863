"""Deploying on AWS: what differs from the other clouds (:class:`escher.infra.deploy.CloudDeploy`).

The stack takes ``aws:region``; the extension watches every enabled region ([aws] regions, the deploy region
first). The worker zip has everything at its root (Lambda adds the root to ``sys.path``). State lives in the
S3 bucket the outputs name, other clouds' credentials in SSM parameters under ``credentials_path``. The user
schedules live in the stack's EventBridge Scheduler group, so they go with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from escher.infra.deploy import (
    MOCK_ACCOUNT,
    BundleLayout,
    CloudDeploy,
    Limit,
    PlanShape,
    UserSchedules,
    audit_location,
)

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.infra.credentials import CredentialWriter
    from escher.infra.preflight import PreflightReport
    from escher.infra.spec import ExtensionSpec
    from escher.state import ObjectStore

__all__ = ["DEPLOY"]


def _regions(settings: Settings) -> Sequence[str]:
    return settings.aws.regions


def _stack_config(spec: ExtensionSpec) -> dict[str, str]:
    return {"aws:region": spec.region}


def _state_store(outputs: Mapping[str, Any]) -> ObjectStore:
    from escher.clouds import aws
    from escher.clouds.aws.state import S3Store

    region = str(outputs.get("region") or "") or None
    return S3Store(str(outputs["state_bucket"]), client=aws.client("s3", region))


def _credential_writer(outputs: Mapping[str, Any], prefix: str) -> CredentialWriter:
    from escher.infra.credentials import SsmWriter

    return SsmWriter(str(outputs["credentials_path"]), str(outputs.get("region") or "") or None)


def _preflight(spec: ExtensionSpec, clients: Mapping[str, Any]) -> PreflightReport:
    from escher.infra.preflight import check_aws

    return check_aws(spec, clients.get("clients"))


def _audit_location(outputs: Mapping[str, Any]) -> str:
    return audit_location(outputs, bucket_scheme="s3")


def _user_schedules(outputs: Mapping[str, Any], scheduler: Any) -> UserSchedules:
    # the stack owns the schedule group `escher schedule add` creates the escher-user-* schedules in; deleting
    # a group deletes every schedule in it
    return "the user schedules went with the stack's EventBridge Scheduler group", [], ""


def _mock_outputs(typ: str, name: str, inputs: Mapping[str, Any], outputs: dict[str, Any]) -> None:
    if typ == "aws:s3/bucket:Bucket":
        outputs.setdefault("bucket", f"{inputs.get('bucketPrefix', name)}mock")
        outputs["arn"] = f"arn:aws:s3:::{outputs['bucket']}"
    if typ == "aws:sqs/queue:Queue":
        outputs.setdefault("url", f"https://sqs.us-east-1.amazonaws.com/{MOCK_ACCOUNT}/{name}")


PLAN = PlanShape(
    prices={
        "aws:s3/bucket:Bucket": (0.02, "S3 Standard, ~100 MB + ~10k requests"),
        "aws:ssm/parameter:Parameter": (0.0, "SSM standard parameter: free (SecureString with the AWS key)"),
        "aws:lambda/function:Function": (
            0.0,
            "Lambda: pay per invocation; the daily scan fits the free tier",
        ),
        "aws:sqs/queue:Queue": (0.0, "SQS: first 1M requests free"),
        "aws:cloudwatch/logGroup:LogGroup": (0.05, "CloudWatch Logs: ~100 MB ingested, retention set"),
        "aws:cloudwatch/eventRule:EventRule": (0.0, "EventBridge: AWS service events are free"),
        "aws:scheduler/schedule:Schedule": (0.0, "EventBridge Scheduler: 14M invocations free"),
        "aws:sns/topic:Topic": (0.0, "SNS: first 1k e-mails free"),
        "aws:sns/topicSubscription:TopicSubscription": (0.0, "SNS to Lambda deliveries: free"),
    },
    worker_function=("aws:lambda/function:Function", ("environment", "variables")),
    calls={
        "aws:index/getCallerIdentity:getCallerIdentity": {
            "accountId": MOCK_ACCOUNT,
            "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/plan",
            "userId": "plan",
        },
        "aws:index/getRegion:getRegion": {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"},
    },
    mock_outputs=_mock_outputs,
)

DEPLOY = CloudDeploy(
    cloud="aws",
    default_region="us-east-1",
    # governance still stops the worker (denied s3:BypassGovernanceRetention)
    default_lock_mode="governance",
    regions=_regions,
    watches_regions=True,
    stack_config=_stack_config,
    bundle=BundleLayout(
        # above 50 MB zipped the AWS component uploads the zip to the state bucket (s3_bucket/s3_key) instead
        limit=Limit(
            None, 250, "Lambda: 250 MB unzipped (code + layers); over 50 MB zipped it goes through S3"
        ),
        runtime="aws-lambda-powertools",
    ),
    retained="the audit bucket (S3 Object Lock) is kept: locked objects cannot be deleted before their "
    "retention ends; delete it yourself afterwards",
    state_store=_state_store,
    credential_writer=_credential_writer,
    preflight=_preflight,
    audit_location=_audit_location,
    user_schedules=_user_schedules,
    plan=PLAN,
)
