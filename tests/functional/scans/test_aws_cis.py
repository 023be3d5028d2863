"""The checks written for CIS AWS 7.0.0 (escher.clouds.aws.checks.cis) on a moto estate: for each, a resource
that fails and one that passes, read by the real collector through boto3.

Account- and region-wide settings have one record per account or region, so their two sides are the same
account before and after the fix (S3 data events) or two regions (Security Hub). Two passing sides are records
in tests/unit/scans/test_aws_cis_checks.py, not moto: moto lists every IAM server certificate with the fixed
expiration 2012-05-08, and its IAM has no AWS managed policies (AWSSupportAccess cannot be attached).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config

from escher.clouds.aws.collect import AwsCollector
from escher.emulators import MotoEmulator
from escher.scans.checks.base import CHECKS, NA, CheckContext, Fail
from escher.scans.model import Record

REGION = "us-east-1"
OTHER = "us-west-2"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def _client(service: str, region: str = REGION) -> Any:
    return boto3.client(service, region_name=region, config=Config(retries={"max_attempts": 1}))


def _collect(regions: list[str], services: list[str]) -> list[Record]:
    inventory = AwsCollector(regions, services=services, max_attempts=1).collect()
    assert not inventory.errors, inventory.errors
    return inventory.records


def _verdicts(check_id: str, records: list[Record]) -> dict[str, str]:
    """resource id -> "fail: <message>" | "pass" | "na" for every record of the check's type."""
    chk = CHECKS.get(check_id)
    ctx = CheckContext()
    out = {}
    for rec in records:
        if rec.type != chk.resource_type:
            continue
        outcome = chk.fn(rec, ctx)
        out[rec.id] = (
            f"fail: {outcome.message}" if isinstance(outcome, Fail) else "na" if outcome is NA else "pass"
        )
    return out


def test_network_checks_fail_the_open_and_pass_the_closed(aws_env: MotoEmulator) -> None:
    ec2 = _client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    smb_open = ec2.create_security_group(GroupName="smb-open", Description="t", VpcId=vpc)["GroupId"]
    smb_lan = ec2.create_security_group(GroupName="smb-lan", Description="t", VpcId=vpc)["GroupId"]
    for sg, cidr in ((smb_open, "0.0.0.0/0"), (smb_lan, "10.0.0.0/8")):
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 445, "ToPort": 445, "IpRanges": [{"CidrIp": cidr}]}])  # fmt: skip
    default_acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"][0]
    web_only = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=web_only, RuleNumber=100, Protocol="6", RuleAction="allow",
                                 Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443})  # fmt: skip
    denied_first = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for n, port in ((90, 22), (91, 3389)):
        ec2.create_network_acl_entry(NetworkAclId=denied_first, RuleNumber=n, Protocol="6", RuleAction="deny",
                                     Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": port, "To": port})  # fmt: skip
    ec2.create_network_acl_entry(NetworkAclId=denied_first, RuleNumber=100, Protocol="-1", RuleAction="allow",
                                 Egress=False, CidrBlock="0.0.0.0/0")  # fmt: skip
    ssh_allowed = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=ssh_allowed, RuleNumber=100, Protocol="6", RuleAction="allow",
                                 Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 0, "To": 1024})  # fmt: skip
    iam = _client("iam")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(_TRUST))
    profile = iam.create_instance_profile(InstanceProfileName="app")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app")
    with_role = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                  IamInstanceProfile={"Arn": profile})["Instances"][0]["InstanceId"]  # fmt: skip
    without = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    records = _collect([REGION], ["ec2"])

    cifs = _verdicts("aws.ec2.sg_open_cifs", records)
    assert cifs[smb_open] == "fail: port 445 open to 0.0.0.0/0" and cifs[smb_lan] == "pass"
    nacl = _verdicts("aws.ec2.nacl_open_admin_ports", records)
    assert nacl[default_acl["NetworkAclId"]] == "fail: port 22, 3389 allowed from the internet"  # allow-all
    assert nacl[ssh_allowed] == "fail: port 22 allowed from the internet"
    assert nacl[web_only] == "pass" and nacl[denied_first] == "pass"  # the lower-numbered deny decides
    role = _verdicts("aws.ec2.instance_no_role", records)
    assert role[with_role] == "pass" and role[without] == "fail: no instance profile (IAM role) attached"


def test_efs_encryption(aws_env: MotoEmulator) -> None:
    efs = _client("efs")
    plain = efs.create_file_system(CreationToken="plain", Encrypted=False)["FileSystemId"]
    sealed = efs.create_file_system(CreationToken="sealed", Encrypted=True)["FileSystemId"]
    verdicts = _verdicts("aws.efs.unencrypted", _collect([REGION], ["efs"]))
    assert verdicts == {plain: "fail: encryption at rest is off", sealed: "pass"}


def test_security_hub_per_region(aws_env: MotoEmulator) -> None:
    _client("securityhub").enable_security_hub()
    records = _collect([REGION, OTHER], ["region_settings"])
    verdicts = {k.rsplit("/", 1)[1]: v for k, v in _verdicts("aws.securityhub.disabled", records).items()}
    assert verdicts == {REGION: "pass", OTHER: "fail: Security Hub is off"}


def test_support_role_and_expired_server_certificate(aws_env: MotoEmulator) -> None:
    iam = _client("iam")
    iam.create_role(RoleName="aws-support", AssumeRolePolicyDocument=json.dumps(_TRUST))
    iam.upload_server_certificate(ServerCertificateName="old-site", CertificateBody="-----BEGIN CERTIFICATE-----",
                                  PrivateKey="-----BEGIN PRIVATE KEY-----")  # fmt: skip
    records = _collect([REGION], ["iam"])
    assert list(_verdicts("aws.iam.support_role", records).values()) == [
        "fail: no role has AWSSupportAccess attached"
    ]
    certs = _verdicts("aws.iam.server_certificate_expired", records)
    assert [(k.rsplit("/", 1)[1], v.split(" expired")[0]) for k, v in certs.items()] == [
        ("old-site", "fail:")
    ]


def test_s3_object_level_logging(aws_env: MotoEmulator) -> None:
    _client("s3").create_bucket(Bucket="trail-logs")
    trail = _client("cloudtrail")
    trail.create_trail(Name="org", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    trail.start_logging(Name="org")

    def verdicts() -> tuple[str, str]:
        records = _collect([REGION], ["cloudtrail"])
        (writes,) = _verdicts("aws.cloudtrail.s3_object_writes", records).values()
        (reads,) = _verdicts("aws.cloudtrail.s3_object_reads", records).values()
        return writes, reads

    assert verdicts() == (
        "fail: no logging multi-region trail records S3 object writes for all buckets",
        "fail: no logging multi-region trail records S3 object reads for all buckets",
    )
    everything = [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]
    trail.put_event_selectors(TrailName="org", EventSelectors=[
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True, "DataResources": everything}])  # fmt: skip
    assert verdicts() == (
        "pass",
        "fail: no logging multi-region trail records S3 object reads for all buckets",
    )
    trail.put_event_selectors(TrailName="org", EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": everything}])  # fmt: skip
    assert verdicts() == ("pass", "pass")
    one_bucket = [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::trail-logs/"]}]
    trail.put_event_selectors(TrailName="org", EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": one_bucket}])  # fmt: skip
    assert verdicts()[0].startswith("fail")  # one bucket's objects are not every bucket's
