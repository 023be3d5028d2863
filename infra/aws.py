"""``escher:aws:Extension``: Escher's state, audit store, credentials, dispatcher Lambda and event wiring on AWS.

Idle cost is the design constraint (<= $1/month): S3 with SSE-S3 (no KMS key at $1/month), SSM standard
SecureString parameters (free, unlike Secrets Manager at $0.40/secret), one Lambda (free when idle),
EventBridge rules and Scheduler (free tier), a log group with retention so logs do not pile up.

Credentials never enter Pulumi state: the parameters are created with a placeholder and ``ignore_changes``;
``escher extend credentials azure|gcp`` writes the real values with the SDK afterwards (step 4 of the setup)
and the worker reads them at run time (escher.extend.cloud_credentials).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escher.infra.component import (
    Extension,
    Outputs,
    PartOutputs,
    Scope,
    create_extension,
    declare_part,
    invoke_options,
)
from escher.infra.spec import EVENTS_LOG_PREFIX, ExtensionSpec

if TYPE_CHECKING:
    import pulumi

__all__ = ["DAILY_SCAN_INPUT", "TYPE_TOKEN", "daily_scan_expression", "extension"]

TYPE_TOKEN = "escher:aws:Extension"
DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024  # Lambda's limit for a zip sent with CreateFunction/UpdateFunctionCode
DEPLOY_PREFIX = "_deploy/"  # in the state bucket; escher.infra.export skips it (code, not state)
PLACEHOLDER = "unset: written by 'escher extend'"

# what the scheduler sends: workers/aws/handler.py routes a top-level "job" to the scheduled job
DAILY_SCAN_INPUT = {"job": "daily_scan"}
REQUIREMENTS = {
    "api_calls": "a CloudTrail trail that is logging management events in every watched region (a multi-region "
    "trail): EventBridge receives API calls only from one; 'escher extend aws --check' checks it",
    "budgets": "point each AWS Budgets notification at the output budgets_topic (SNS); Budgets sends its "
    "threshold alerts nowhere else",
}


def daily_scan_expression(spec: ExtensionSpec) -> str:
    hour, minute = spec.scan_hour_minute
    return f"cron({minute} {hour} * * ? *)"


def bundle_hash(path: str) -> str:
    digest = hashlib.sha256(Path(path).read_bytes()).digest() if Path(path).exists() else b""
    return base64.b64encode(digest).decode()


def uploads_through_bucket(bundle_path: str) -> bool:
    """Over 50 MB zipped, Lambda takes the zip only from S3 (the 250 MB unzipped limit still applies)."""
    path = Path(bundle_path)
    return path.exists() and path.stat().st_size > DIRECT_UPLOAD_BYTES


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def private_bucket(
    scope: Scope, name: str, bucket: Any, *, versioned: bool = True, retain: bool = False
) -> None:
    """Public access block, SSE-S3 and versioning; ``retain`` keeps them on destroy with a retained bucket
    (deleting them would strip its protection while it lives on)."""
    import pulumi_aws.s3 as s3

    opts = scope.opts(retain_on_delete=retain)
    s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    by_default = s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
    s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=by_default(sse_algorithm="AES256"),
            )
        ],
        opts=opts,
    )
    if versioned:
        s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=opts,
        )


def _build(extension: pulumi.ComponentResource, spec: ExtensionSpec) -> Outputs:
    """The Extension in parts: state store, audit store, secrets, worker, schedules, event wiring."""
    import pulumi_aws as aws

    from escher.infra import aws_events
    from escher.infra.parts import aws as parts

    def part(kind: str, name: str, build: Callable[[Scope], PartOutputs]) -> PartOutputs:
        return declare_part(extension, f"escher:aws:{kind}", name, build)

    identity = aws.get_caller_identity_output(opts=invoke_options(extension))
    account = identity.account_id
    state = part("StateStore", "state-store", lambda s: parts.state_store(s, spec))
    audit = part("AuditStore", "audit-store", lambda s: parts.audit_store(s, spec))
    secrets = part("Secrets", "secrets", lambda s: parts.secrets(s, spec, account=account))
    worker = part(
        "Worker",
        "worker",
        lambda s: parts.worker(s, spec, state=state, audit=audit, secrets=secrets, account=account),
    )
    schedules = part("Schedules", "schedules", lambda s: parts.schedules(s, spec, worker=worker))
    # events the normalizers read -> the same Lambda (dead letters to SQS), in every watched region
    wired = part(
        "EventWiring", "events", lambda s: aws_events.wire_events(s, spec, worker=worker, account=account)
    )
    return {
        "cloud": "aws",
        "region": spec.region,
        "state_bucket": state.bucket,
        "audit_bucket": audit.bucket,
        "credentials_path": secrets.path,
        "extra_clouds": secrets.names,  # escher extend credentials <cloud> writes them
        "worker": worker.name,
        "worker_arn": worker.arn,
        "worker_role": worker.role_arn,
        "scheduler_role": schedules.role_arn,  # user schedules (escher schedule add) invoke the worker with it
        "dead_letter_queue": worker.dead_letter_queue,
        "state_url": state.url,
        "dead_letter_url": worker.dead_letter_url,
        # the organization scan (escher.pipeline.fanout): one message per account, failed ones kept aside
        "scan_queue": worker.scan_queue,
        "scan_dead_letter_queue": worker.scan_dead_letter_queue,
        "log_group": worker.log_group,
        "schedule_group": schedules.group,
        "notifications_topic": worker.notifications_topic,
        "worker_policy": worker.policy,
        "watched_regions": list(spec.watched_regions),
        "event_rules": wired.rule_names,
        "budgets_topic": wired.budgets_topic,
        "requirements": [REQUIREMENTS[k] for k in sorted(REQUIREMENTS) if k in spec.events],
        "events_log_prefix": EVENTS_LOG_PREFIX,
    }


def extension(name: str, spec: ExtensionSpec, opts: pulumi.ResourceOptions | None = None) -> Extension:
    return create_extension(TYPE_TOKEN, name, spec, _build, opts)
