"""The critical-state check on moto: what it calls public or open, and what it leaves alone."""

from __future__ import annotations

import boto3

from escher.emulators import MotoEmulator
from escher.ops import CloudContext
from escher.watch.state import AwsCriticalState


def test_findings_on_moto(aws_env: MotoEmulator) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in ("open-acl", "blocked", "private"):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_acl(Bucket="open-acl", ACL="public-read")
    s3.put_bucket_acl(Bucket="blocked", ACL="public-read")
    s3.put_public_access_block(
        Bucket="blocked",
        PublicAccessBlockConfiguration={k: True for k in ("BlockPublicAcls", "IgnorePublicAcls",
                                                           "BlockPublicPolicy", "RestrictPublicBuckets")},
    )  # fmt: skip
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ssh = ec2.create_security_group(GroupName="ssh", Description="d", VpcId=vpc)["GroupId"]
    web = ec2.create_security_group(GroupName="web", Description="d", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=ssh,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 30, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    s3.create_bucket(Bucket="trail-logs")
    trail = boto3.client("cloudtrail", region_name="us-east-1")
    arn = trail.create_trail(Name="main", S3BucketName="trail-logs")["TrailARN"]  # created, never started

    found = {
        f.key: f
        for f in AwsCriticalState(CloudContext(aws_retries={"max_attempts": 1}), ["us-east-1"]).findings()
    }
    assert set(found) == {"s3:public:open-acl", f"ec2:open_admin:{ssh}", f"cloudtrail:stopped:{arn}"}
    assert found["s3:public:open-acl"].evidence["evidence"] == ["READ granted to AllUsers"]
    assert found[f"ec2:open_admin:{ssh}"].evidence["open_ports"] == [22]

    trail.start_logging(Name=arn)
    after = {
        f.key
        for f in AwsCriticalState(CloudContext(aws_retries={"max_attempts": 1}), ["us-east-1"]).findings()
    }
    assert f"cloudtrail:stopped:{arn}" not in after
