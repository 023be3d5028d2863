"""AWS logging, detection and key management: CloudTrail, Config, GuardDuty, KMS, CloudWatch Logs, SQS, SNS."""

from __future__ import annotations

from escher.scans.checks.base import NA, CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity


@check(
    "aws.cloudtrail.enabled",
    resource="aws.cloudtrail.account",
    reads=("multi_region_logging",),
    title="No multi-region CloudTrail trail is logging",
    severity=Severity.HIGH,
    risk="API activity (who changed what) is not recorded in every region.",
    remediation="Create a multi-region trail to an S3 bucket with log file validation, and start logging.",
    cis=("4.1",),
    soc2=("CC7.2",),
    hipaa=("164.312(b)",),
)
def cloudtrail_enabled(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("multi_region_logging") else Fail("no multi-region trail is logging")


@check(
    "aws.cloudtrail.log_file_validation",
    resource="aws.cloudtrail.trail",
    reads=("log_file_validation",),
    title="CloudTrail log file validation is off",
    severity=Severity.MEDIUM,
    risk="Altered or deleted log files cannot be detected.",
    remediation="aws cloudtrail update-trail --name T --enable-log-file-validation",
    cis=("4.2",),
    soc2=("CC7.2",),
    hipaa=("164.312(c)(1)",),
)
def trail_validation(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("log_file_validation") else Fail("log file validation is off")


@check(
    "aws.cloudtrail.kms_encryption",
    resource="aws.cloudtrail.trail",
    reads=("kms_key",),
    title="CloudTrail logs are not encrypted with KMS",
    severity=Severity.LOW,
    risk="Anyone who can read the bucket can read the logs.",
    remediation="Set a KMS key on the trail (--kms-key-id).",
    cis=("4.5",),
    soc2=("CC6.1",),
)
def trail_kms(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("kms_key") else Fail("no KMS key")


# CIS AWS 7.0.0: no control for this check (the CloudWatch Logs integration recommendation is no longer in the benchmark)
@check(
    "aws.cloudtrail.cloudwatch_logs",
    resource="aws.cloudtrail.trail",
    reads=("cloudwatch_logs",),
    title="CloudTrail is not sent to CloudWatch Logs",
    severity=Severity.LOW,
    risk="No real-time alarms on API activity.",
    remediation="Configure a CloudWatch Logs log group and role on the trail.",
    cis=(),
    soc2=("CC7.2",),
)
def trail_cloudwatch(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("cloudwatch_logs") else Fail("not delivered to CloudWatch Logs")


@check(
    "aws.config.recorder_enabled",
    resource="aws.ec2.region_settings",
    reads=("config_recording",),
    title="AWS Config is not recording",
    severity=Severity.MEDIUM,
    risk="Configuration history and drift are not kept for audits.",
    remediation="Enable an AWS Config recorder for all resources in the region.",
    cis=("4.3",),
    soc2=("CC7.1",),
    hipaa=("164.312(b)",),
)
def config_recorder(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("config_recording") is None:
        return NA  # not read (the failure is in the inventory's errors)
    return None if rec.attrs.get("config_recording") else Fail(f"no recorder in {rec.region}")


@check(
    "aws.guardduty.enabled",
    resource="aws.ec2.region_settings",
    reads=("guardduty",),
    title="GuardDuty is not enabled",
    severity=Severity.MEDIUM,
    risk="Compromised credentials and crypto-mining go unnoticed.",
    remediation="aws guardduty create-detector --enable --region REGION",
    soc2=("CC7.2",),
    hipaa=("164.308(a)(1)(ii)(D)",),
)
def guardduty(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("guardduty") is None:
        return NA
    return None if rec.attrs.get("guardduty") else Fail(f"no GuardDuty detector in {rec.region}")


@check(
    "aws.kms.key_rotation",
    resource="aws.kms.key",
    reads=("manager", "spec", "state", "rotation"),
    title="KMS key rotation is off",
    severity=Severity.LOW,
    risk="A compromised key material stays valid forever.",
    remediation="aws kms enable-key-rotation --key-id KEY",
    cis=("4.6",),
    soc2=("CC6.1",),
)
def kms_rotation(rec: Record, ctx: CheckContext) -> Outcome:
    if (
        rec.attrs.get("manager") != "CUSTOMER"
        or rec.attrs.get("spec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT"
    ):
        return NA
    if rec.attrs.get("state") != "Enabled":
        return NA
    return None if rec.attrs.get("rotation") else Fail("automatic rotation is off")


@check(
    "aws.logs.retention_set",
    resource="aws.logs.log_group",
    reads=("retention_days",),
    title="Log group keeps logs forever",
    severity=Severity.LOW,
    category="cost",
    risk="Logs grow without bound and are billed per GB stored.",
    remediation="Set a retention period (e.g. 30 or 90 days) on the log group.",
)
def log_retention(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("retention_days") else Fail("never expires")


@check(
    "aws.sqs.queue_encrypted",
    resource="aws.sqs.queue",
    reads=("encrypted",),
    title="SQS queue is not encrypted",
    severity=Severity.LOW,
    risk="Messages are stored unencrypted at rest.",
    remediation="Enable SSE-SQS or SSE-KMS on the queue.",
    soc2=("CC6.1",),
    hipaa=("164.312(a)(2)(iv)",),
)
def sqs_encrypted(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("encrypted") else Fail("server-side encryption is off")


@check(
    "aws.sns.topic_encrypted",
    resource="aws.sns.topic",
    reads=("kms_key",),
    title="SNS topic is not encrypted",
    severity=Severity.LOW,
    risk="Messages are stored unencrypted at rest.",
    remediation="Set KmsMasterKeyId on the topic.",
    soc2=("CC6.1",),
    hipaa=("164.312(a)(2)(iv)",),
)
def sns_encrypted(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("kms_key") else Fail("no KMS key")
