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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escher.infra.component import Extension, Outputs, child, create_extension
from escher.infra.permissions import AwsStateArns, aws_own_function_policy, aws_policy_document
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


def _bundle_hash(path: str) -> str:
    digest = hashlib.sha256(Path(path).read_bytes()).digest() if Path(path).exists() else b""
    return base64.b64encode(digest).decode()


def uploads_through_bucket(bundle_path: str) -> bool:
    """Over 50 MB zipped, Lambda takes the zip only from S3 (the 250 MB unzipped limit still applies)."""
    path = Path(bundle_path)
    return path.exists() and path.stat().st_size > DIRECT_UPLOAD_BYTES


def _assume(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def _private_bucket(
    parent: pulumi.Resource, name: str, bucket: Any, *, versioned: bool = True, retain: bool = False
) -> list[Any]:
    """Public access block, SSE-S3 and versioning; ``retain`` keeps them on destroy with a retained bucket
    (deleting them would strip its protection while it lives on)."""
    import pulumi_aws.s3 as s3

    opts = child(parent, retain_on_delete=retain)
    made: list[Any] = [
        s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        ),
        s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=opts,
        ),
    ]
    if versioned:
        made.append(
            s3.BucketVersioning(
                f"{name}-versioning",
                bucket=bucket.id,
                versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                opts=opts,
            )
        )
    return made


def _build(parent: pulumi.ComponentResource, spec: ExtensionSpec) -> Outputs:
    import pulumi
    import pulumi_aws as aws
    import pulumi_aws.cloudwatch as cloudwatch
    import pulumi_aws.iam as iam
    import pulumi_aws.lambda_ as lambda_
    import pulumi_aws.s3 as s3
    import pulumi_aws.scheduler as scheduler
    import pulumi_aws.sns as sns
    import pulumi_aws.sqs as sqs
    import pulumi_aws.ssm as ssm

    prefix = spec.name_prefix
    tags = {"escher": "extend", "escher-stack": prefix}
    opts = child(parent)
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    account = identity.account_id

    # -- state and audit ---------------------------------------------------------------------------------
    state = s3.Bucket("state", bucket_prefix=f"{prefix}-state-", force_destroy=True, tags=tags, opts=opts)
    _private_bucket(parent, "state", state)
    # the log of generic events (nothing was decided): cheap, and gone after events_log_days
    s3.BucketLifecycleConfiguration(
        "state-events-log-expiry",
        bucket=state.id,
        rules=[
            s3.BucketLifecycleConfigurationRuleArgs(
                id="events-log-expiry",
                status="Enabled",
                filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=EVENTS_LOG_PREFIX),
                expiration=s3.BucketLifecycleConfigurationRuleExpirationArgs(days=spec.events_log_days),
                noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=1
                ),
            )
        ],
        opts=opts,
    )
    # The audit store must outlive the stack: destroy leaves it (and its locked objects) in place.
    audit = s3.Bucket(
        "audit",
        bucket_prefix=f"{prefix}-audit-",
        object_lock_enabled=True,
        tags=tags,
        opts=child(parent, retain_on_delete=True),
    )
    _private_bucket(parent, "audit", audit, retain=True)
    s3.BucketObjectLockConfiguration(
        "audit-object-lock",
        bucket=audit.id,
        object_lock_enabled="Enabled",
        rule=s3.BucketObjectLockConfigurationRuleArgs(
            default_retention=s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                mode=spec.lock_mode.upper(), days=spec.audit_retention_days
            )
        ),
        opts=child(parent, retain_on_delete=True),
    )

    # -- credentials (values written later by the driver, never stored in Pulumi state) ------------------
    param_root = f"/{prefix}/credentials"
    for cred in spec.credential_names:
        ssm.Parameter(
            f"credential-{cred}",
            name=f"{param_root}/{cred}",
            type="SecureString",
            tier="Standard",
            value=pulumi.Output.secret(PLACEHOLDER),
            tags=tags,
            opts=child(parent, ignore_changes=["value"]),
        )
    parameters_prefix = pulumi.Output.concat(
        "arn:aws:ssm:", spec.region, ":", account, ":parameter", param_root
    )

    # -- dispatcher Lambda ------------------------------------------------------------------------------
    dead_letters = sqs.Queue(
        "dead-letters",
        message_retention_seconds=14 * 24 * 3600,
        sqs_managed_sse_enabled=True,
        tags=tags,
        opts=opts,
    )
    logs = cloudwatch.LogGroup(
        "worker-logs",
        name=f"/{prefix}/worker",
        retention_in_days=spec.log_retention_days,
        tags=tags,
        opts=opts,
    )
    topic = sns.Topic("notifications", tags=tags, opts=opts) if spec.notify_email else None
    if topic is not None:
        sns.TopicSubscription(
            "notifications-email", topic=topic.arn, protocol="email", endpoint=spec.notify_email, opts=opts
        )

    role = iam.Role("worker-role", assume_role_policy=_assume("lambda.amazonaws.com"), tags=tags, opts=opts)
    topic_arn: pulumi.Output[str] | None = topic.arn if topic is not None else None
    policy = pulumi.Output.all(
        state.arn, audit.arn, parameters_prefix, logs.arn, dead_letters.arn, topic_arn, account
    ).apply(
        lambda a: json.dumps(
            aws_policy_document(
                spec.permissions,
                AwsStateArns(
                    state_bucket=a[0],
                    audit_bucket=a[1],
                    parameters_prefix=a[2],
                    log_group=a[3],
                    dead_letter_queue=a[4],
                    topic=a[5],
                    account=a[6],
                ),
            )
        )
    )
    iam.RolePolicy("worker-policy", role=role.id, policy=policy, opts=opts)

    state_url = pulumi.Output.concat("s3://", state.bucket)
    dead_letter_url = pulumi.Output.concat("sqs://", dead_letters.name)
    audit_url = pulumi.Output.concat("s3://", audit.bucket)
    environment: dict[str, pulumi.Input[str]] = {
        "ESCHER_CLOUD": "aws",
        # what escher.pipeline.runtime reads: the state bucket, and the SQS dead-letter queue by name
        # (the worker may sqs:GetQueueUrl + sqs:SendMessage on that queue only)
        "ESCHER_STATE_URL": state_url,
        "ESCHER_DEAD_LETTER_URL": dead_letter_url,
        # the audit objects go to the Object Lock bucket (s3:PutObject there, never delete or retention changes)
        "ESCHER_AUDIT_URL": audit_url,
        "ESCHER_STATE_BUCKET": state.bucket,
        "ESCHER_AUDIT_BUCKET": audit.bucket,
        # the secret store's path (the notification secrets, the other clouds' credentials: read with
        # ssm:GetParameter at run time) and the clouds whose credentials are kept there (names, never values)
        "ESCHER_CREDENTIALS_PATH": param_root,
        "ESCHER_EXTRA_CLOUDS": ",".join(spec.credential_names),
        # the scheduler fires in the user's zone already; the worker's settings carry the same values
        "ESCHER_TIMEZONE": spec.timezone,
        "ESCHER_DAILY_SCAN_AT": spec.daily_scan_at,
        "ESCHER_OPERATIONS": ",".join(spec.operations),
        "ESCHER_EVENTS_LOG_PREFIX": EVENTS_LOG_PREFIX,
        "ESCHER_EVENTS_LOG_DAYS": str(spec.events_log_days),
        "POWERTOOLS_SERVICE_NAME": "escher",
    }
    if topic is not None:
        environment["ESCHER_NOTIFY_TOPIC"] = topic.arn
    code: dict[str, Any] = {}
    if uploads_through_bucket(spec.bundle_path):
        package = s3.BucketObjectv2(
            "worker-package",
            bucket=state.id,
            key=f"{DEPLOY_PREFIX}worker-{hashlib.sha256(Path(spec.bundle_path).read_bytes()).hexdigest()[:16]}.zip",
            source=pulumi.FileAsset(spec.bundle_path),
            opts=opts,
        )
        code = {"s3_bucket": package.bucket, "s3_key": package.key}
    else:
        code = {"code": pulumi.FileArchive(spec.bundle_path)}
    worker = lambda_.Function(
        "worker",
        runtime="python3.12",
        architectures=["x86_64"],
        handler=spec.entry_points.aws_handler,
        source_code_hash=_bundle_hash(spec.bundle_path),
        **code,
        role=role.arn,
        memory_size=512,
        timeout=900,
        environment=lambda_.FunctionEnvironmentArgs(variables=environment),
        dead_letter_config=lambda_.FunctionDeadLetterConfigArgs(target_arn=dead_letters.arn),
        logging_config=lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=logs.name),
        tags=tags,
        opts=opts,
    )

    # the worker may not change its own function (its environment names the state it trusts)
    iam.RolePolicy(
        "worker-self-deny",
        role=role.id,
        policy=worker.arn.apply(lambda arn: json.dumps(aws_own_function_policy(arn, spec.permissions))),
        opts=opts,
    )

    # -- the daily scan: EventBridge Scheduler in the user's time zone --------------------------------------
    group = scheduler.ScheduleGroup("schedules", name_prefix=f"{prefix}-", tags=tags, opts=opts)
    scheduler_role = iam.Role(
        "scheduler-role", assume_role_policy=_assume("scheduler.amazonaws.com"), tags=tags, opts=opts
    )
    iam.RolePolicy(
        "scheduler-policy",
        role=scheduler_role.id,
        policy=pulumi.Output.all(worker.arn, dead_letters.arn).apply(
            lambda a: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [a[0]]},
                        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [a[1]]},
                    ],
                }
            )
        ),
        opts=opts,
    )
    scheduler.Schedule(
        "daily-scan",
        group_name=group.name,
        schedule_expression=daily_scan_expression(spec),
        schedule_expression_timezone=spec.timezone,
        flexible_time_window=scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        target=scheduler.ScheduleTargetArgs(
            arn=worker.arn,
            role_arn=scheduler_role.arn,
            input=json.dumps(DAILY_SCAN_INPUT),
            retry_policy=scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=3),
            dead_letter_config=scheduler.ScheduleTargetDeadLetterConfigArgs(arn=dead_letters.arn),
        ),
        opts=opts,
    )

    # -- events the normalizers read -> the same Lambda (dead letters to SQS), in every watched region -------
    from escher.infra.aws_events import wire_events

    wired = wire_events(parent, spec, worker=worker, role=role, dead_letters=dead_letters, account=account)

    return {
        "cloud": "aws",
        "region": spec.region,
        "state_bucket": state.bucket,
        "audit_bucket": audit.bucket,
        "credentials_path": param_root,
        "extra_clouds": list(spec.credential_names),  # escher extend credentials <cloud> writes them
        "worker": worker.name,
        "worker_arn": worker.arn,
        "worker_role": role.arn,
        "scheduler_role": scheduler_role.arn,  # user schedules (escher schedule add) invoke the worker with it
        "dead_letter_queue": dead_letters.url,
        "state_url": state_url,
        "dead_letter_url": dead_letter_url,
        "log_group": logs.name,
        "schedule_group": group.name,
        "notifications_topic": topic.arn if topic is not None else None,
        "worker_policy": policy,
        "watched_regions": list(spec.watched_regions),
        "event_rules": wired.rule_names,
        "budgets_topic": wired.budgets_topic,
        "requirements": [REQUIREMENTS[k] for k in sorted(REQUIREMENTS) if k in spec.events],
        "events_log_prefix": EVENTS_LOG_PREFIX,
    }


def extension(name: str, spec: ExtensionSpec, opts: pulumi.ResourceOptions | None = None) -> Extension:
    return create_extension(TYPE_TOKEN, name, spec, _build, opts)
