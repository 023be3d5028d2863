"""A moto estate with known ground truth: what the scan must find, exactly. Shared by the tests and the bench."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

REGION = "us-east-1"
IDLE_CPU = 1.5
BUSY_CPU = 55.0


@dataclass
class Truth:
    public_buckets: set[str] = field(default_factory=set)
    blocked_buckets: set[str] = field(default_factory=set)
    unencrypted_volumes: set[str] = field(default_factory=set)
    encrypted_volumes: set[str] = field(default_factory=set)
    open_groups: set[str] = field(default_factory=set)
    closed_groups: set[str] = field(default_factory=set)
    idle_instances: set[str] = field(default_factory=set)
    busy_instances: set[str] = field(default_factory=set)


def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=REGION, config=Config(retries={"max_attempts": 1}))


def seed(n: int, *, now: datetime | None = None) -> Truth:
    """``n`` resources of each type, half on each side of every check."""
    now = now or datetime.now(UTC)
    truth = Truth()
    half = n // 2
    s3 = _client("s3")
    for i in range(n):
        name = f"escher-truth-{i:05d}"
        s3.create_bucket(Bucket=name)
        if i < half:
            s3.put_bucket_acl(Bucket=name, ACL="public-read")
            truth.public_buckets.add(name)
        else:
            flags = dict.fromkeys(
                ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
            )
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=flags)
            truth.blocked_buckets.add(name)
    ec2 = _client("ec2")
    for i in range(n):
        vol = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=10, Encrypted=i >= half, VolumeType="gp3")
        (truth.unencrypted_volumes if i < half else truth.encrypted_volumes).add(vol["VolumeId"])
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    for i in range(n):
        sg = ec2.create_security_group(GroupName=f"truth-{i}", Description="truth", VpcId=vpc)["GroupId"]
        cidr, port = ("0.0.0.0/0", 22) if i < half else ("10.0.0.0/8", 443)
        ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
            ],
        )
        (truth.open_groups if i < half else truth.closed_groups).add(sg)
    ids: list[str] = []
    while len(ids) < n:
        batch = min(500, n - len(ids))
        resp = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=batch,
            MaxCount=batch,
            InstanceType="m5.large",
            BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "Encrypted": True}}],
        )
        ids += [inst["InstanceId"] for inst in resp["Instances"]]
    cw = _client("cloudwatch")
    data = []
    for i, iid in enumerate(ids):
        value = IDLE_CPU if i < half else BUSY_CPU
        (truth.idle_instances if i < half else truth.busy_instances).add(iid)
        for day in range(1, 8):
            data.append(
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                    "Timestamp": now - timedelta(days=day, hours=1),
                    "Value": value,
                    "Unit": "Percent",
                }
            )
    for j in range(0, len(data), 1000):
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=data[j : j + 1000])
    return truth
