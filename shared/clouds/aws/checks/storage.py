"""AWS storage and databases: S3 buckets, EBS volumes and snapshots, RDS, DynamoDB."""

from __future__ import annotations

from escher.scans.checks._declarative import attr_check, truthy
from escher.scans.checks.base import NA, CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity
from escher.scans.pricing import AWS_EBS_GB_MONTH, AWS_SNAPSHOT_GB_MONTH

_PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def bucket_is_public(rec: Record) -> bool:
    """Effective exposure: a public ACL or policy that the bucket's Public Access Block does not neutralize."""
    pab = rec.attrs.get("public_access_block") or {}
    acl_open = bool(rec.attrs.get("acl_public")) and not pab.get("IgnorePublicAcls")
    policy_open = bool(rec.attrs.get("policy_public")) and not pab.get("RestrictPublicBuckets")
    return acl_open or policy_open


@check(
    "aws.s3.bucket_public",
    resource="aws.s3.bucket",
    reads=("public_access_block", "acl_public", "policy_public"),
    title="S3 bucket is readable by anyone",
    severity=Severity.CRITICAL,
    risk="Anyone on the internet can list or read the objects: the classic data leak.",
    remediation="Turn on Block Public Access for the bucket and remove public grants from its ACL and policy.",
    cis=("3.1.4",),
    soc2=("CC6.1", "CC6.6"),
    hipaa=("164.312(a)(1)",),
    fix="aws.s3.block_public_access",
)
def bucket_public(rec: Record, ctx: CheckContext) -> Outcome:
    if bucket_is_public(rec):
        how = "ACL" if rec.attrs.get("acl_public") else "bucket policy"
        return Fail(f"bucket {rec.id} is public through its {how}")
    return None


@check(
    "aws.s3.bucket_public_access_block",
    resource="aws.s3.bucket",
    reads=("public_access_block",),
    title="S3 bucket does not block public access",
    severity=Severity.HIGH,
    risk="One wrong ACL or policy makes the bucket public; Block Public Access stops that by default.",
    remediation="aws s3api put-public-access-block --bucket NAME --public-access-block-configuration "
    "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
    cis=("3.1.4",),
    soc2=("CC6.1",),
    fix="aws.s3.block_public_access",
)
def bucket_public_access_block(rec: Record, ctx: CheckContext) -> Outcome:
    pab = rec.attrs.get("public_access_block") or {}
    missing = [flag for flag in _PAB_FLAGS if not pab.get(flag)]
    return Fail(f"Block Public Access is off for: {', '.join(missing)}") if missing else None


# CIS AWS 7.0.0: no control for this check (CIS AWS dropped the S3 default-encryption recommendation (S3 encrypts new objects since 2023))
attr_check(
    "aws.s3.bucket_default_encryption",
    resource="aws.s3.bucket",
    attr="encryption",
    ok=truthy,
    message="bucket {id} has no default encryption",
    absent_is_na=False,
    title="S3 bucket has no default encryption",
    severity=Severity.MEDIUM,
    risk="Objects written without encryption headers are stored in clear.",
    remediation="Set default encryption (SSE-S3 or SSE-KMS) on the bucket.",
    cis=(),
    soc2=("CC6.1",),
    hipaa=("164.312(a)(2)(iv)",),
    fix="aws.s3.enable_default_encryption",
)


attr_check(
    "aws.s3.bucket_versioning",
    resource="aws.s3.bucket",
    attr="versioning",
    ok=lambda v: v == "Enabled",
    message="versioning is not enabled",
    absent_is_na=False,
    title="S3 bucket versioning is off",
    severity=Severity.LOW,
    risk="Overwritten or deleted objects cannot be recovered (ransomware, mistakes).",
    remediation="aws s3api put-bucket-versioning --bucket NAME --versioning-configuration Status=Enabled",
    soc2=("A1.2",),
    hipaa=("164.308(a)(7)(ii)(A)",),
    category="operational",
    fix="aws.s3.enable_versioning",
)


attr_check(
    "aws.s3.bucket_access_logging",
    resource="aws.s3.bucket",
    attr="logging",
    ok=truthy,
    message="server access logging is off",
    absent_is_na=False,
    title="S3 bucket access logging is off",
    severity=Severity.LOW,
    risk="Reads and writes to the bucket leave no trail for an investigation.",
    remediation="Enable server access logging to a separate log bucket.",
    cis=("4.4",),
    soc2=("CC7.2",),
    hipaa=("164.312(b)",),
)


attr_check(
    "aws.s3.bucket_ssl_only",
    resource="aws.s3.bucket",
    attr="ssl_only",
    ok=truthy,
    message="no policy denies requests without TLS",
    absent_is_na=False,
    title="S3 bucket accepts plain HTTP",
    severity=Severity.MEDIUM,
    risk="Requests without TLS can be read or altered in transit.",
    remediation='Add a bucket policy statement denying s3:* when "aws:SecureTransport" is "false".',
    cis=("3.1.1",),
    soc2=("CC6.7",),
    hipaa=("164.312(e)(1)",),
)


# CIS AWS 7.0.0: no control for this check (6.1.1 is the region's encryption-by-default setting (aws.ec2.ebs_default_encryption), not each volume)
@check(
    "aws.ec2.volume_encrypted",
    resource="aws.ec2.volume",
    reads=("encrypted", "size_gb"),
    title="EBS volume is not encrypted",
    severity=Severity.MEDIUM,
    risk="Data at rest and its snapshots are unencrypted (may hold PII).",
    remediation="Snapshot the volume, copy the snapshot with encryption, create a volume from it and swap.",
    cis=(),
    soc2=("CC6.1",),
    hipaa=("164.312(a)(2)(iv)",),
    fix="aws.ec2.encrypt_volume",
)
def volume_encrypted(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("encrypted"):
        return None
    sev = Severity.HIGH if rec.environment.lower() in ("prod", "production") else None
    return Fail(f"{rec.attrs.get('size_gb', '?')} GB volume is not encrypted", severity=sev)


@check(
    "aws.ec2.ebs_default_encryption",
    resource="aws.ec2.region_settings",
    reads=("ebs_default_encryption",),
    title="EBS encryption by default is off",
    severity=Severity.MEDIUM,
    risk="New volumes are created unencrypted unless each caller asks for encryption.",
    remediation="aws ec2 enable-ebs-encryption-by-default --region REGION",
    cis=("6.1.1",),
    soc2=("CC6.1",),
    hipaa=("164.312(a)(2)(iv)",),
    fix="aws.ec2.enable_ebs_encryption_by_default",
    fix_target=lambda r: r.region,
)
def ebs_default_encryption(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("ebs_default_encryption") else Fail(f"off in {rec.region}")


@check(
    "aws.ec2.volume_unattached",
    resource="aws.ec2.volume",
    reads=("state", "size_gb", "volume_type"),
    title="EBS volume is not attached to anything",
    severity=Severity.LOW,
    category="cost",
    risk="You pay for storage nobody uses.",
    remediation="Snapshot it if the data matters, then delete the volume.",
)
def volume_unattached(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("state") != "available":
        return None
    size = float(rec.attrs.get("size_gb") or 0)
    price = AWS_EBS_GB_MONTH.get(str(rec.attrs.get("volume_type")), 0.10)
    return Fail(
        f"{size:.0f} GB {rec.attrs.get('volume_type', '')} volume is unattached", round(size * price, 2)
    )


@check(
    "aws.ec2.snapshot_orphaned",
    resource="aws.ec2.snapshot",
    reads=("start_time", "volume_id", "size_gb", "aws.ec2.volume:id"),
    title="Old EBS snapshot whose source volume is gone",
    severity=Severity.LOW,
    category="cost",
    risk="Forgotten snapshots accumulate storage cost.",
    remediation="Check nothing restores from it (AMIs, DR runbooks), then delete the snapshot.",
    fix="aws.ec2.delete_snapshot",
)
def snapshot_orphaned(rec: Record, ctx: CheckContext) -> Outcome:
    age = ctx.age_days(rec.attrs.get("start_time"))
    if age is None or age < ctx.thresholds.old_snapshot_days:
        return None
    if rec.attrs.get("volume_id") in ctx.ids("aws.ec2.volume"):
        return None
    size = float(rec.attrs.get("size_gb") or 0)
    return Fail(f"{age:.0f} days old, source volume deleted", round(size * AWS_SNAPSHOT_GB_MONTH, 2))


attr_check(
    "aws.ec2.snapshot_encrypted",
    resource="aws.ec2.snapshot",
    attr="encrypted",
    ok=truthy,
    message="snapshot is not encrypted",
    absent_is_na=False,
    title="EBS snapshot is not encrypted",
    severity=Severity.LOW,
    risk="A copy of the volume's data sits unencrypted and can be shared by mistake.",
    remediation="Copy the snapshot with --encrypted and delete the unencrypted one.",
    soc2=("CC6.1",),
    hipaa=("164.312(a)(2)(iv)",),
)


@check(
    "aws.ec2.volume_backup_age",
    resource="aws.ec2.volume",
    reads=("state", "last_snapshot"),
    title="In-use EBS volume has no recent snapshot",
    severity=Severity.LOW,
    category="operational",
    risk="A failed disk or a bad change cannot be rolled back.",
    remediation="Cover the volume with an AWS Backup plan or Data Lifecycle Manager policy.",
    soc2=("A1.2",),
    hipaa=("164.308(a)(7)(ii)(A)",),
)
def volume_backup_age(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("state") != "in-use" or rec.environment.lower() not in ("prod", "production"):
        return NA
    age = ctx.age_days(rec.attrs.get("last_snapshot"))
    if age is None:
        return Fail("no snapshot at all")
    return Fail(f"last snapshot {age:.0f} days ago") if age > ctx.thresholds.backup_max_age_days else None


attr_check(
    "aws.rds.storage_encrypted",
    resource="aws.rds.instance",
    attr="encrypted",
    ok=truthy,
    message="storage encryption is off",
    absent_is_na=False,
    title="RDS instance storage is not encrypted",
    severity=Severity.HIGH,
    risk="Database files, logs, backups and snapshots are unencrypted at rest.",
    remediation="Snapshot, copy the snapshot with a KMS key, restore the copy, cut over.",
    cis=("3.2.1",),
    soc2=("CC6.1",),
    hipaa=("164.312(a)(2)(iv)",),
)


@check(
    "aws.rds.public",
    resource="aws.rds.instance",
    reads=("public",),
    title="RDS instance is publicly accessible",
    severity=Severity.CRITICAL,
    risk="The database endpoint resolves to a public IP and is one password away from the internet.",
    remediation="aws rds modify-db-instance --db-instance-identifier ID --no-publicly-accessible --apply-immediately",
    cis=("3.2.3",),
    soc2=("CC6.6",),
    hipaa=("164.312(e)(1)",),
)
def rds_public(rec: Record, ctx: CheckContext) -> Outcome:
    return Fail("publicly accessible") if rec.attrs.get("public") else None


@check(
    "aws.rds.automated_backups",
    resource="aws.rds.instance",
    reads=("backup_retention",),
    title="RDS automated backups are off or too short",
    severity=Severity.HIGH,
    category="operational",
    risk="No point-in-time recovery: a bad migration or deletion loses data.",
    remediation="Set the backup retention period to 7 days or more.",
    soc2=("A1.2",),
    hipaa=("164.308(a)(7)(ii)(A)",),
)
def rds_backups(rec: Record, ctx: CheckContext) -> Outcome:
    days = int(rec.attrs.get("backup_retention") or 0)
    if days == 0:
        return Fail("automated backups are disabled", severity=Severity.HIGH)
    if days < ctx.thresholds.min_backup_retention_days:
        return Fail(f"backup retention is {days} days", severity=Severity.LOW)
    return None


@check(
    "aws.rds.multi_az",
    resource="aws.rds.instance",
    reads=("multi_az",),
    title="Production RDS instance is single-AZ",
    severity=Severity.MEDIUM,
    category="operational",
    risk="An availability-zone outage takes the database down.",
    remediation="Modify the instance to Multi-AZ.",
    soc2=("A1.2",),
)
def rds_multi_az(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.environment.lower() not in ("prod", "production"):
        return NA
    return None if rec.attrs.get("multi_az") else Fail("single availability zone")


attr_check(
    "aws.rds.deletion_protection",
    resource="aws.rds.instance",
    attr="deletion_protection",
    ok=truthy,
    message="deletion protection is off",
    absent_is_na=False,
    title="RDS deletion protection is off",
    severity=Severity.LOW,
    category="operational",
    risk="One API call deletes the database.",
    remediation="aws rds modify-db-instance --db-instance-identifier ID --deletion-protection",
    soc2=("A1.2",),
)


attr_check(
    "aws.rds.auto_minor_upgrade",
    resource="aws.rds.instance",
    attr="auto_minor_upgrade",
    ok=truthy,
    message="auto minor version upgrade is off",
    absent_is_na=False,
    title="RDS automatic minor version upgrades are off",
    severity=Severity.LOW,
    risk="Security patches in minor engine versions are not applied.",
    remediation="Enable auto minor version upgrade.",
    cis=("3.2.2",),
    soc2=("CC7.1",),
)


@check(
    "aws.rds.snapshot_age",
    resource="aws.rds.instance",
    reads=("backup_retention", "last_snapshot"),
    title="RDS instance has no recent snapshot",
    severity=Severity.MEDIUM,
    category="operational",
    risk="Backups have silently stopped.",
    remediation="Check the backup window and AWS Backup jobs for this instance.",
    soc2=("A1.2",),
    hipaa=("164.308(a)(7)(ii)(A)",),
)
def rds_snapshot_age(rec: Record, ctx: CheckContext) -> Outcome:
    if not rec.attrs.get("backup_retention"):
        return NA  # reported by aws.rds.automated_backups
    age = ctx.age_days(rec.attrs.get("last_snapshot"))
    if age is None:
        return Fail("no snapshot found")
    return Fail(f"last snapshot {age:.1f} days ago") if age > ctx.thresholds.backup_max_age_days else None


attr_check(
    "aws.dynamodb.point_in_time_recovery",
    resource="aws.dynamodb.table",
    attr="pitr",
    ok=truthy,
    message="point-in-time recovery is off",
    absent_is_na=False,
    title="DynamoDB point-in-time recovery is off",
    severity=Severity.MEDIUM,
    category="operational",
    risk="A bad write or delete cannot be rolled back.",
    remediation="aws dynamodb update-continuous-backups --table-name T "
    "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true",
    soc2=("A1.2",),
    hipaa=("164.308(a)(7)(ii)(A)",),
)
