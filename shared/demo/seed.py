"""A small, realistic AWS estate on moto: what a real account has that Escher should notice.

- ``customer-data``: production bucket tagged PII (the one that gets made public);
- three idle dev instances, one prod web instance;
- two unencrypted volumes, a snapshot of one of them;
- ``web-ssh``: a security group (the one that gets SSH opened to the world).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Estate", "seed_aws"]

PII_BUCKET = "customer-data"


@dataclass
class Estate:
    pii_bucket: str = PII_BUCKET
    buckets: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    ssh_group: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def seed_aws(s3: Any, ec2: Any, *, state_bucket: str) -> Estate:
    estate = Estate()
    s3.create_bucket(Bucket=state_bucket)
    for name, tags in (
        (PII_BUCKET, {"data_classification": "PII", "env": "production", "owner": "payments-team"}),
        ("app-logs-dev", {"env": "dev", "owner": "platform"}),
    ):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(**tags)})
        estate.buckets.append(name)
    s3.put_object(Bucket=PII_BUCKET, Key="exports/customers-2024-05.csv", Body=b"id,email\n1,a@example.com\n")
    s3.put_bucket_acl(Bucket=PII_BUCKET, ACL="public-read")  # what john just did

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    estate.ssh_group = ec2.create_security_group(GroupName="web-ssh", Description="web tier", VpcId=vpc)[
        "GroupId"
    ]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    for i, (itype, env) in enumerate(
        (("t3.large", "dev"), ("t3.large", "dev"), ("t3.medium", "dev"), ("m5.large", "production"))
    ):
        reply = ec2.run_instances(
            ImageId=image, InstanceType=itype, MinCount=1, MaxCount=1, SubnetId=subnet,
            SecurityGroupIds=[estate.ssh_group],
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(Name=f"{env}-{i}", env=env)}],
        )  # fmt: skip
        estate.instances.append(reply["Instances"][0]["InstanceId"])
    for size in (100, 250):
        vol = ec2.create_volume(
            AvailabilityZone="us-east-1a", Size=size, Encrypted=False,
            TagSpecifications=[{"ResourceType": "volume", "Tags": _tags(env="dev")}],
        )  # fmt: skip
        estate.volumes.append(vol["VolumeId"])
    snap = ec2.create_snapshot(VolumeId=estate.volumes[0], Description="nightly backup 2023-01-02")
    estate.snapshots.append(snap["SnapshotId"])
    return estate
