"""AWS checks written for CIS AWS Foundations 7.0.0 recommendations no earlier check decided.

Each carries the recommendation's id; the catalogue (``escher/compliance/data/cis-aws.json``) maps it back.
"""

from __future__ import annotations

from escher.clouds.aws.checks.compute import _sg_check
from escher.scans.checks.base import NA, CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity

WORLD = frozenset({"0.0.0.0/0", "::/0"})
ADMIN_PORTS = (22, 3389)


@check(
    "aws.iam.support_role",
    resource="aws.iam.account",
    reads=("support_roles",),
    title="No IAM role can manage AWS Support cases",
    severity=Severity.LOW,
    risk="During an incident nobody but root can open or follow a case with AWS Support.",
    remediation="aws iam create-role --role-name aws-support ... && aws iam attach-role-policy "
    "--role-name aws-support --policy-arn arn:aws:iam::aws:policy/AWSSupportAccess",
    cis=("2.15",),
    soc2=("CC7.4",),
)
def support_role(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("support_roles") else Fail("no role has AWSSupportAccess attached")


@check(
    "aws.ec2.instance_no_role",
    resource="aws.ec2.instance",
    reads=("state", "instance_profile"),
    title="EC2 instance has no IAM role",
    severity=Severity.MEDIUM,
    risk="Software on the instance needs long-lived access keys on disk to call AWS, and they leak.",
    remediation="aws ec2 associate-iam-instance-profile --instance-id I --iam-instance-profile Name=PROFILE",
    cis=("2.16",),
    soc2=("CC6.1",),
)
def instance_no_role(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("state") in ("terminated", "shutting-down"):
        return NA
    return None if rec.attrs.get("instance_profile") else Fail("no instance profile (IAM role) attached")


@check(
    "aws.iam.server_certificate_expired",
    resource="aws.iam.server_certificate",
    reads=("expiration",),
    title="Expired SSL/TLS certificate stored in IAM",
    severity=Severity.MEDIUM,
    risk="An expired certificate can be deployed to a load balancer by mistake and break or weaken TLS.",
    remediation="aws iam delete-server-certificate --server-certificate-name NAME",
    cis=("2.17",),
    soc2=("CC6.7",),
)
def server_certificate_expired(rec: Record, ctx: CheckContext) -> Outcome:
    age = ctx.age_days(rec.attrs.get("expiration"))
    if age is None:
        return NA
    return Fail(f"expired {int(age)} days ago") if age > 0 else None


@check(
    "aws.accessanalyzer.disabled",
    resource="aws.accessanalyzer.region",
    reads=("external_access_active", "analyzers"),
    title="IAM Access Analyzer (external access) is not active in the region",
    severity=Severity.MEDIUM,
    risk="Buckets, keys, roles and queues shared with another account or the public in this region go "
    "unnoticed: no analyzer reports them.",
    remediation="aws accessanalyzer create-analyzer --analyzer-name external-access --type ACCOUNT "
    "--region REGION (ORGANIZATION from the organization's management or delegated admin account)",
    cis=("2.18",),
    soc2=("CC7.2",),
)
def access_analyzer_disabled(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("external_access_active"):
        return None
    external = [a for a in rec.attrs.get("analyzers") or [] if a.get("type") in ("ACCOUNT", "ORGANIZATION")]
    if not external:
        return Fail("no external access analyzer (type ACCOUNT or ORGANIZATION) in the region")
    states = ", ".join(
        f"{a.get('name')} is {a.get('status')}" + (f" ({a['reason']})" if a.get("reason") else "")
        for a in external
    )
    return Fail(f"no external access analyzer is ACTIVE: {states}")


@check(
    "aws.efs.unencrypted",
    resource="aws.efs.file_system",
    reads=("encrypted",),
    title="EFS file system is not encrypted at rest",
    severity=Severity.MEDIUM,
    risk="The files are stored unencrypted; encryption can only be chosen when the file system is created.",
    remediation="Create an encrypted file system (aws efs create-file-system --encrypted --kms-key-id KEY), "
    "copy the data with AWS DataSync, then delete the unencrypted one.",
    cis=("3.3.1",),
    soc2=("CC6.1",),
    hipaa=("164.312(a)(2)(iv)",),
)
def efs_unencrypted(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("encrypted") else Fail("encryption at rest is off")


@check(
    "aws.cloudtrail.s3_object_writes",
    resource="aws.cloudtrail.account",
    reads=("s3_object_writes_logged",),
    title="S3 object-level write events are not logged",
    severity=Severity.LOW,
    risk="Who put or deleted an object cannot be traced: CloudTrail records bucket changes, not object ones.",
    remediation="aws cloudtrail put-event-selectors --trail-name TRAIL --event-selectors "
    '\'[{"ReadWriteType":"WriteOnly","DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]\'',
    cis=("4.8",),
    soc2=("CC7.2",),
    hipaa=("164.312(b)",),
)
def s3_object_writes(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("s3_object_writes_logged"):
        return None
    return Fail("no logging multi-region trail records S3 object writes for all buckets")


@check(
    "aws.cloudtrail.s3_object_reads",
    resource="aws.cloudtrail.account",
    reads=("s3_object_reads_logged",),
    title="S3 object-level read events are not logged",
    severity=Severity.LOW,
    risk="Who read which object cannot be traced, so a data leak cannot be scoped.",
    remediation="aws cloudtrail put-event-selectors --trail-name TRAIL --event-selectors "
    '\'[{"ReadWriteType":"ReadOnly","DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]\'',
    cis=("4.9",),
    soc2=("CC7.2",),
    hipaa=("164.312(b)",),
)
def s3_object_reads(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("s3_object_reads_logged"):
        return None
    return Fail("no logging multi-region trail records S3 object reads for all buckets")


@check(
    "aws.securityhub.disabled",
    resource="aws.ec2.region_settings",
    reads=("security_hub",),
    title="Security Hub is not enabled in the region",
    severity=Severity.MEDIUM,
    risk="Findings of GuardDuty, Inspector, Config and the security standards are not gathered or scored.",
    remediation="aws securityhub enable-security-hub --region REGION",
    cis=("5.16",),
    soc2=("CC7.2",),
)
def securityhub_disabled(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("security_hub") else Fail("Security Hub is off")


_sg_check("aws.ec2.sg_open_cifs", "Security group opens CIFS/SMB (445) to the internet", (445,), ("6.1.2",))


def _covers(entry: dict[str, object], port: int) -> bool:
    proto = str(entry.get("protocol"))
    if proto == "-1":
        return True
    if proto != "6":  # remote administration is TCP
        return False
    lo, hi = entry.get("from_port", 0), entry.get("to_port", 65535)
    return isinstance(lo, int) and isinstance(hi, int) and lo <= port <= hi


def nacl_open_admin_ports(rec: Record) -> list[int]:
    """Admin ports the network ACL lets in from anywhere: the lowest-numbered world rule covering the port
    decides, as AWS evaluates the entries in order."""
    open_ = []
    for port in ADMIN_PORTS:
        for entry in rec.attrs.get("ingress", []):
            if entry.get("cidr") in WORLD and _covers(entry, port):
                if entry.get("action") == "allow":
                    open_.append(port)
                break
    return open_


@check(
    "aws.ec2.nacl_open_admin_ports",
    resource="aws.ec2.network_acl",
    reads=("ingress",),
    title="Network ACL allows SSH or RDP from the internet",
    severity=Severity.MEDIUM,
    risk="The subnet's stateless firewall lets anyone reach the remote administration ports; only the "
    "security groups stand between the internet and a login prompt.",
    remediation="aws ec2 replace-network-acl-entry --network-acl-id ACL --ingress --rule-number N "
    "--protocol tcp --port-range From=22,To=22 --cidr-block OFFICE/32 --rule-action allow "
    "(or add a lower-numbered deny for 0.0.0.0/0 on 22 and 3389)",
    cis=("6.2",),
    soc2=("CC6.6",),
)
def nacl_open_admin(rec: Record, ctx: CheckContext) -> Outcome:
    ports = nacl_open_admin_ports(rec)
    return Fail(f"port {', '.join(map(str, ports))} allowed from the internet") if ports else None
