"""The parts of ``escher:aws:Extension``: state store, audit store, secrets, worker, schedules (the event wiring
is :func:`escher.infra.aws_events.wire_events`). Each returns its typed outputs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escher.infra.aws import (
    DAILY_SCAN_INPUT,
    DEPLOY_PREFIX,
    PLACEHOLDER,
    assume_role_policy,
    bundle_hash,
    daily_scan_expression,
    private_bucket,
    uploads_through_bucket,
)
from escher.infra.component import Scope
from escher.infra.permissions import (
    AwsStateArns,
    aws_own_function_policy,
    aws_policy_document,
    aws_scan_queue_policy,
)
from escher.infra.spec import EVENTS_LOG_PREFIX, ExtensionSpec

if TYPE_CHECKING:
    import pulumi

__all__ = ["AuditStore", "Schedules", "Secrets", "StateStore", "Worker"]


def tags_of(spec: ExtensionSpec) -> dict[str, str]:
    return {"escher": "extend", "escher-stack": spec.name_prefix}


@dataclass(frozen=True)
class StateStore:
    bucket: pulumi.Output[str]  # the bucket's name
    bucket_id: pulumi.Output[str]
    arn: pulumi.Output[str]
    url: pulumi.Output[str]  # s3://bucket, what escher.pipeline.runtime reads


@dataclass(frozen=True)
class AuditStore:
    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]
    url: pulumi.Output[str]


@dataclass(frozen=True)
class Secrets:
    path: str  # the SSM path of the credentials
    arn_prefix: pulumi.Output[str]
    names: list[str]  # the clouds whose credentials are kept (names, never values)


@dataclass(frozen=True)
class Worker:
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    policy: pulumi.Output[str]
    dead_letter_arn: pulumi.Output[str]
    dead_letter_queue: pulumi.Output[str]  # the queue's URL
    dead_letter_url: pulumi.Output[str]  # sqs://name, what escher.pipeline.runtime reads
    log_group: pulumi.Output[str]
    notifications_topic: pulumi.Output[str] | None
    scan_queue: pulumi.Output[str]  # the organization scan's queue (URL): one message per account
    scan_dead_letter_queue: pulumi.Output[
        str
    ]  # where a message goes after SCAN_MAX_RECEIVES failed deliveries


@dataclass(frozen=True)
class Schedules:
    group: pulumi.Output[str]
    role_arn: pulumi.Output[str]  # user schedules (escher schedule add) invoke the worker with it


def state_store(scope: Scope, spec: ExtensionSpec) -> StateStore:
    import pulumi
    import pulumi_aws.s3 as s3

    prefix = spec.name_prefix
    state = s3.Bucket(
        "state", bucket_prefix=f"{prefix}-state-", force_destroy=True, tags=tags_of(spec), opts=scope.opts()
    )
    private_bucket(scope, "state", state)
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
        opts=scope.opts(),
    )
    return StateStore(state.bucket, state.id, state.arn, pulumi.Output.concat("s3://", state.bucket))


def audit_store(scope: Scope, spec: ExtensionSpec) -> AuditStore:
    """The audit store must outlive the stack: destroy leaves it (and its locked objects) in place."""
    import pulumi
    import pulumi_aws.s3 as s3

    keep = scope.opts(retain_on_delete=True)
    audit = s3.Bucket(
        "audit",
        bucket_prefix=f"{spec.name_prefix}-audit-",
        object_lock_enabled=True,
        tags=tags_of(spec),
        opts=keep,
    )
    private_bucket(scope, "audit", audit, retain=True)
    s3.BucketObjectLockConfiguration(
        "audit-object-lock",
        bucket=audit.id,
        object_lock_enabled="Enabled",
        rule=s3.BucketObjectLockConfigurationRuleArgs(
            default_retention=s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                mode=spec.lock_mode.upper(), days=spec.audit_retention_days
            )
        ),
        opts=keep,
    )
    return AuditStore(audit.bucket, audit.arn, pulumi.Output.concat("s3://", audit.bucket))


def secrets(scope: Scope, spec: ExtensionSpec, *, account: pulumi.Output[str]) -> Secrets:
    """Credentials: values written later by the driver, never stored in Pulumi state."""
    import pulumi
    import pulumi_aws.ssm as ssm

    path = f"/{spec.name_prefix}/credentials"
    for cred in spec.credential_names:
        ssm.Parameter(
            f"credential-{cred}",
            name=f"{path}/{cred}",
            type="SecureString",
            tier="Standard",
            value=pulumi.Output.secret(PLACEHOLDER),
            tags=tags_of(spec),
            opts=scope.opts(ignore_changes=["value"]),
        )
    arn_prefix = pulumi.Output.concat("arn:aws:ssm:", spec.region, ":", account, ":parameter", path)
    return Secrets(path, arn_prefix, list(spec.credential_names))


def worker(
    scope: Scope,
    spec: ExtensionSpec,
    *,
    state: StateStore,
    audit: AuditStore,
    secrets: Secrets,
    account: pulumi.Output[str],
) -> Worker:
    """The dispatcher Lambda, its dead letters, logs, notifications topic, role and least-privilege policy."""
    import pulumi
    import pulumi_aws.cloudwatch as cloudwatch
    import pulumi_aws.iam as iam
    import pulumi_aws.sns as sns
    import pulumi_aws.sqs as sqs

    tags, opts = tags_of(spec), scope.opts()
    dead_letters = sqs.Queue(
        "dead-letters",
        message_retention_seconds=14 * 24 * 3600,
        sqs_managed_sse_enabled=True,
        tags=tags,
        opts=opts,
    )
    logs = cloudwatch.LogGroup(
        "worker-logs",
        name=f"/{spec.name_prefix}/worker",
        retention_in_days=spec.log_retention_days,
        tags=tags,
        opts=opts,
    )
    topic = sns.Topic("notifications", tags=tags, opts=opts) if spec.notify_email else None
    if topic is not None:
        sns.TopicSubscription(
            "notifications-email", topic=topic.arn, protocol="email", endpoint=spec.notify_email, opts=opts
        )
    role = iam.Role(
        "worker-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com"), tags=tags, opts=opts
    )
    topic_arn: pulumi.Output[str] | None = topic.arn if topic is not None else None
    arns = (state.arn, audit.arn, secrets.arn_prefix, logs.arn, dead_letters.arn, topic_arn, account)
    policy = pulumi.Output.all(*arns).apply(
        lambda a: json.dumps(aws_policy_document(spec.permissions, AwsStateArns(*a)))
    )
    iam.RolePolicy("worker-policy", role=role.id, policy=policy, opts=opts)
    dead_letter_url = pulumi.Output.concat("sqs://", dead_letters.name)
    environment = _environment(spec, state, audit, secrets, dead_letter_url, topic_arn)
    scan_queue, scan_dead = _scan_queues(scope, spec)
    environment["ESCHER_SCAN_QUEUE_URL"] = pulumi.Output.concat("sqs://", scan_queue.name)
    function = _function(scope, spec, state, environment, role=role, dead_letters=dead_letters, logs=logs)
    # the worker may not change its own function (its environment names the state it trusts)
    iam.RolePolicy(
        "worker-self-deny",
        role=role.id,
        policy=function.arn.apply(lambda arn: json.dumps(aws_own_function_policy(arn, spec.permissions))),
        opts=opts,
    )
    _consume(scope, function=function, role=role, queue=scan_queue)
    return Worker(
        name=function.name,
        arn=function.arn,
        role_arn=role.arn,
        role_name=role.name,
        policy=policy,
        dead_letter_arn=dead_letters.arn,
        dead_letter_queue=dead_letters.url,
        dead_letter_url=dead_letter_url,
        log_group=logs.name,
        notifications_topic=topic_arn,
        scan_queue=scan_queue.url,
        scan_dead_letter_queue=scan_dead.url,
    )


SCAN_MAX_RECEIVES = 3  # deliveries of one scan message before it goes to the scan dead-letter queue
# fixed until the Extension's spec carries them from the settings: accounts scanned at once (the event source
# mapping's maximum concurrency, 2..1000) and the role entered in each account ([aws] organization_role's default)
SCAN_CONCURRENCY = 10
ORGANIZATION_ROLE = "OrganizationAccountAccessRole"


def _scan_queues(scope: Scope, spec: ExtensionSpec) -> tuple[Any, Any]:
    """The organization scan's queue and its dead-letter queue (free while idle)."""
    import pulumi_aws.sqs as sqs

    tags, opts = tags_of(spec), scope.opts()
    dead = sqs.Queue(
        "scan-dead-letters", message_retention_seconds=14 * 24 * 3600, sqs_managed_sse_enabled=True, tags=tags,
        opts=opts,
    )  # fmt: skip
    queue = sqs.Queue(
        "scan-queue",
        visibility_timeout_seconds=6 * 900,  # AWS's advice: six times the function's timeout
        message_retention_seconds=24 * 3600,
        sqs_managed_sse_enabled=True,
        redrive_policy=dead.arn.apply(
            lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": SCAN_MAX_RECEIVES})
        ),
        tags=tags,
        opts=opts,
    )
    return queue, dead


def _consume(scope: Scope, *, function: Any, role: Any, queue: Any) -> None:
    """The worker consumes the scan queue one account at a time, failures reported per message."""
    import pulumi_aws.iam as iam
    import pulumi_aws.lambda_ as lambda_

    opts = scope.opts()
    policy = iam.RolePolicy(
        "worker-scan-queue",
        role=role.id,
        policy=queue.arn.apply(lambda arn: json.dumps(aws_scan_queue_policy(arn, ORGANIZATION_ROLE))),
        opts=opts,
    )
    lambda_.EventSourceMapping(
        "scan-queue-consumer",
        event_source_arn=queue.arn,
        function_name=function.arn,
        batch_size=1,
        function_response_types=["ReportBatchItemFailures"],
        scaling_config=lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=SCAN_CONCURRENCY),
        opts=scope.opts(depends_on=[policy]),
    )


def _environment(
    spec: ExtensionSpec,
    state: StateStore,
    audit: AuditStore,
    secrets: Secrets,
    dead_letter_url: pulumi.Output[str],
    topic_arn: pulumi.Output[str] | None,
) -> dict[str, pulumi.Input[str]]:
    environment: dict[str, pulumi.Input[str]] = {
        "ESCHER_CLOUD": "aws",
        # what escher.pipeline.runtime reads: the state bucket, and the SQS dead-letter queue by name
        # (the worker may sqs:GetQueueUrl + sqs:SendMessage on that queue only)
        "ESCHER_STATE_URL": state.url,
        "ESCHER_DEAD_LETTER_URL": dead_letter_url,
        # the audit objects go to the Object Lock bucket (s3:PutObject there, never delete or retention changes)
        "ESCHER_AUDIT_URL": audit.url,
        "ESCHER_STATE_BUCKET": state.bucket,
        "ESCHER_AUDIT_BUCKET": audit.bucket,
        # the secret store's path (the notification secrets, the other clouds' credentials: read with
        # ssm:GetParameter at run time) and the clouds whose credentials are kept there (names, never values)
        "ESCHER_CREDENTIALS_PATH": secrets.path,
        "ESCHER_EXTRA_CLOUDS": ",".join(secrets.names),
        # the scheduler fires in the user's zone already; the worker's settings carry the same values
        "ESCHER_TIMEZONE": spec.timezone,
        "ESCHER_DAILY_SCAN_AT": spec.daily_scan_at,
        "ESCHER_OPERATIONS": ",".join(spec.operations),
        "ESCHER_EVENTS_LOG_PREFIX": EVENTS_LOG_PREFIX,
        "ESCHER_EVENTS_LOG_DAYS": str(spec.events_log_days),
        "POWERTOOLS_SERVICE_NAME": "escher",
    }
    if topic_arn is not None:
        environment["ESCHER_NOTIFY_TOPIC"] = topic_arn
    return environment


def _function(
    scope: Scope,
    spec: ExtensionSpec,
    state: StateStore,
    environment: dict[str, pulumi.Input[str]],
    *,
    role: Any,
    dead_letters: Any,
    logs: Any,
) -> Any:
    import pulumi
    import pulumi_aws.lambda_ as lambda_
    import pulumi_aws.s3 as s3

    code: dict[str, Any] = {}
    if uploads_through_bucket(spec.bundle_path):
        digest = hashlib.sha256(Path(spec.bundle_path).read_bytes()).hexdigest()[:16]
        package = s3.BucketObjectv2(
            "worker-package",
            bucket=state.bucket_id,
            key=f"{DEPLOY_PREFIX}worker-{digest}.zip",
            source=pulumi.FileAsset(spec.bundle_path),
            opts=scope.opts(),
        )
        code = {"s3_bucket": package.bucket, "s3_key": package.key}
    else:
        code = {"code": pulumi.FileArchive(spec.bundle_path)}
    return lambda_.Function(
        "worker",
        runtime="python3.12",
        architectures=["x86_64"],
        handler=spec.entry_points.aws_handler,
        source_code_hash=bundle_hash(spec.bundle_path),
        **code,
        role=role.arn,
        memory_size=512,
        timeout=900,
        environment=lambda_.FunctionEnvironmentArgs(variables=environment),
        dead_letter_config=lambda_.FunctionDeadLetterConfigArgs(target_arn=dead_letters.arn),
        logging_config=lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=logs.name),
        tags=tags_of(spec),
        opts=scope.opts(),
    )


def schedules(scope: Scope, spec: ExtensionSpec, *, worker: Worker) -> Schedules:
    """The daily scan: EventBridge Scheduler in the user's time zone, with the role user schedules use too."""
    import pulumi
    import pulumi_aws.iam as iam
    import pulumi_aws.scheduler as scheduler

    tags, opts = tags_of(spec), scope.opts()
    group = scheduler.ScheduleGroup("schedules", name_prefix=f"{spec.name_prefix}-", tags=tags, opts=opts)
    role = iam.Role(
        "scheduler-role",
        assume_role_policy=assume_role_policy("scheduler.amazonaws.com"),
        tags=tags,
        opts=opts,
    )
    iam.RolePolicy(
        "scheduler-policy",
        role=role.id,
        policy=pulumi.Output.all(worker.arn, worker.dead_letter_arn).apply(
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
            role_arn=role.arn,
            input=json.dumps(DAILY_SCAN_INPUT),
            retry_policy=scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=3),
            dead_letter_config=scheduler.ScheduleTargetDeadLetterConfigArgs(arn=worker.dead_letter_arn),
        ),
        opts=opts,
    )
    return Schedules(group.name, role.arn)
