"""aws.tagging.tag_resource on the moto server: every collected type it tags, by the scan's id or by ARN, read
back with each service's own API (not the Tagging API that wrote them)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import NO_RETRY, make_engine, run

REGION = "us-east-1"
OP = "aws.tagging.tag_resource"


@pytest.fixture
def engine(aws_env: Any, sink: MemoryAuditSink) -> Engine:
    return make_engine(CloudContext(aws_retries=NO_RETRY), sink)


def c(service: str) -> Any:
    return boto3.client(service, region_name=REGION, config=Config(retries={"max_attempts": 1}))


def t(resource: str) -> Target:
    return Target("aws", resource, REGION)


def pairs(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {i["Key"]: i["Value"] for i in items or []}


def _instance() -> tuple[str, str, Callable[[], dict[str, str]]]:
    ec2 = c("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": "dev"}]}])["Instances"][0]["InstanceId"]  # fmt: skip
    return iid, "aws.ec2.instance", lambda: pairs(ec2.describe_tags(
        Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"])  # fmt: skip


def _volume() -> tuple[str, str, Callable[[], dict[str, str]]]:
    ec2 = c("ec2")
    vid = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
    return (
        vid,
        "aws.ec2.volume",
        lambda: pairs(ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0].get("Tags")),
    )


def _bucket() -> tuple[str, str, Callable[[], dict[str, str]]]:
    s3 = c("s3")
    s3.create_bucket(Bucket="tag-me")
    s3.put_bucket_tagging(Bucket="tag-me", Tagging={"TagSet": [{"Key": "env", "Value": "dev"}]})
    return "tag-me", "aws.s3.bucket", lambda: pairs(s3.get_bucket_tagging(Bucket="tag-me")["TagSet"])


def _db() -> tuple[str, str, Callable[[], dict[str, str]]]:
    rds = c("rds")
    arn = rds.create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="admin",
        MasterUserPassword="password123", AllocatedStorage=20,
    )["DBInstance"]["DBInstanceArn"]  # fmt: skip
    return (
        "orders",
        "aws.rds.instance",
        lambda: pairs(rds.list_tags_for_resource(ResourceName=arn)["TagList"]),
    )


def _table() -> tuple[str, str, Callable[[], dict[str, str]]]:
    ddb = c("dynamodb")
    arn = ddb.create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]  # fmt: skip
    return "orders", "aws.dynamodb.table", lambda: pairs(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])


def _log_group() -> tuple[str, str, Callable[[], dict[str, str]]]:
    logs = c("logs")
    logs.create_log_group(logGroupName="/app/web")
    return "/app/web", "aws.logs.log_group", lambda: logs.list_tags_log_group(logGroupName="/app/web")["tags"]


def _queue() -> tuple[str, str, Callable[[], dict[str, str]]]:
    sqs = c("sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn, "aws.sqs.queue", lambda: sqs.list_queue_tags(QueueUrl=url).get("Tags", {})


def _topic() -> tuple[str, str, Callable[[], dict[str, str]]]:
    sns = c("sns")
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    return arn, "aws.sns.topic", lambda: pairs(sns.list_tags_for_resource(ResourceArn=arn)["Tags"])


def _key() -> tuple[str, str, Callable[[], dict[str, str]]]:
    kms = c("kms")
    meta = kms.create_key(Description="data")["KeyMetadata"]
    return (
        meta["Arn"],
        "aws.kms.key",
        lambda: {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]},
    )


def _file_system() -> tuple[str, str, Callable[[], dict[str, str]]]:
    efs = c("efs")
    fid = efs.create_file_system(CreationToken="fs-1")["FileSystemId"]
    return fid, "aws.efs.file_system", lambda: pairs(efs.describe_file_systems(FileSystemId=fid)["FileSystems"][0]["Tags"])  # fmt: skip


def _function() -> tuple[str, str, Callable[[], dict[str, str]]]:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    role = c("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    lam = c("lambda")
    arn = lam.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="handler.handler",
                              Code={"ZipFile": code.getvalue()})["FunctionArn"]  # fmt: skip
    return arn, "aws.lambda.function", lambda: lam.list_tags(Resource=arn)["Tags"]


def _trail() -> tuple[str, str, Callable[[], dict[str, str]]]:
    c("s3").create_bucket(Bucket="trail-logs")
    ct = c("cloudtrail")
    arn = ct.create_trail(Name="main", S3BucketName="trail-logs")["TrailARN"]
    return arn, "aws.cloudtrail.trail", lambda: pairs(ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"])  # fmt: skip


MAKERS = [_instance, _volume, _bucket, _db, _table, _log_group, _queue, _topic, _key, _file_system, _function,
          _trail]  # fmt: skip


@pytest.mark.parametrize("make", MAKERS, ids=lambda m: m.__name__.strip("_"))
def test_every_collected_type_is_tagged_and_its_other_tags_kept(engine: Engine, make: Any) -> None:
    target, kind, read_tags = make()
    before = dict(read_tags())
    result = run(engine, OP, [t(target)], {"tags": {"owner": "carol"}, "resource_type": kind})
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    assert read_tags() == {**before, "owner": "carol"}
    (res,) = result.results
    assert (res.after or {})["tag:owner"] == "carol" and res.details["arn"].startswith("arn:aws:")
    # asked again: the tag holds, nothing is sent
    assert run(engine, OP, [t(target)], {"tags": {"owner": "carol"}, "resource_type": kind}).counts() == {
        "noop": 1
    }


def test_by_arn_without_a_type(engine: Engine) -> None:
    arn, _, read_tags = _topic()
    assert run(engine, OP, [t(arn)], {"tags": {"team": "web"}}).ok
    assert read_tags() == {"team": "web"}


def test_an_ec2_id_builds_the_account_s_arn(engine: Engine) -> None:
    iid, kind, _ = _instance()
    result = run(engine, OP, [t(iid)], {"tags": {"owner": "carol"}, "resource_type": kind})
    account = c("sts").get_caller_identity()["Account"]
    assert result.results[0].details["arn"] == f"arn:aws:ec2:{REGION}:{account}:instance/{iid}"


@pytest.mark.parametrize(
    ("target", "kind", "says"),
    [
        ("arn:aws:iam::123456789012:role/admin", None, "can grant access"),
        ("AIDAEXAMPLE", "aws.iam.user", "can grant access"),
        (REGION, "aws.ec2.region_settings", "not a resource"),
        ("i-0123456789abcdef0", None, "say what it is with resource_type"),
        ("arn:aws:ecs:us-east-1:123456789012:cluster/x", None, "does not collect"),
    ],
)
def test_what_cannot_be_tagged_is_refused_with_the_reason(engine: Engine, target: str, kind: str | None,
                                                          says: str) -> None:  # fmt: skip
    params: dict[str, Any] = {"tags": {"owner": "carol"}} | ({"resource_type": kind} if kind else {})
    plan = engine.plan(OP, [t(target)], params, actor="user:alice")
    assert plan.changes[0].action == "error" and says in (plan.changes[0].error or ""), plan.changes[0].error


def test_a_missing_resource_is_the_resource_s_failure(engine: Engine) -> None:
    result = run(
        engine, OP, [t("vol-0123456789abcdef0")], {"tags": {"a": "b"}, "resource_type": "aws.ec2.volume"}
    )
    (res,) = result.results
    assert res.outcome == "failed" and "AWS did not tag" in (res.error or ""), res.error
