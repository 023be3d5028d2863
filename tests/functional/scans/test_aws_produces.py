"""The AWS collector's tasks return exactly the attributes they declare (``PRODUCES``), and every AWS check
gives a verdict, on a moto estate with one of everything.

The unit coverage test (tests/unit/scans/test_coverage.py) trusts the declarations to say which checks can
fire; here they are held to what each task really returns, both ways: an attribute a task returns but does not
declare, or declares but never returns, fails.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

from escher.clouds.aws.collect import AwsCollector, link_backups
from escher.emulators import MotoEmulator
from escher.scans.model import Record
from tests.functional.scans.estate import REGION, _client, seed

_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def _one_of_everything() -> None:
    """What ``seed`` leaves out: a snapshot, an EIP, an AMI, a stopped instance, an instance with 30 days of
    light CPU, a production volume in use, RDS (production, with a snapshot), DynamoDB, Lambda, KMS, Logs, SQS,
    SNS, IAM (a console user with a key and a policy, a role, a server certificate), CloudTrail and EFS."""
    ec2 = _client("ec2")
    vol = ec2.describe_volumes()["Volumes"][0]["VolumeId"]
    ec2.create_snapshot(VolumeId=vol)
    ec2.allocate_address(Domain="vpc")
    instance = ec2.describe_instances()["Reservations"][0]["Instances"][0]
    ec2.create_image(InstanceId=instance["InstanceId"], Name="golden")
    root = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    ec2.create_tags(Resources=[root], Tags=[{"Key": "env", "Value": "prod"}])  # in use, in production
    stopped, light = (
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType=t)["Instances"][0][
            "InstanceId"
        ]
        for t in ("t3.micro", "m5.xlarge")
    )
    ec2.stop_instances(InstanceIds=[stopped])
    now = datetime.now(UTC)
    _client("cloudwatch").put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": light}],
         "Timestamp": now - timedelta(days=d, hours=1), "Value": 12.0, "Unit": "Percent"}
        for d in range(30)
    ])  # fmt: skip
    rds = _client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="admin", MasterUserPassword="not-a-secret-1", AllocatedStorage=20,
        Tags=[{"Key": "env", "Value": "prod"}],
    )  # fmt: skip
    rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-manual")
    _client("dynamodb").create_table(
        TableName="events", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    iam = _client("iam")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(_TRUST))["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    _client("lambda").create_function(
        FunctionName="fn",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": buf.getvalue()},
    )
    _client("kms").create_key(Description="app")
    _client("logs").create_log_group(logGroupName="/app/web")
    _client("sqs").create_queue(QueueName="jobs")
    _client("sns").create_topic(Name="alerts")
    iam.create_user(UserName="ann")
    iam.create_login_profile(UserName="ann", Password="not-a-secret-Pw1!")
    iam.create_access_key(UserName="ann")
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    arn = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="ann", PolicyArn=arn)
    _client("s3").create_bucket(Bucket="escher-trail-logs")
    trail = _client("cloudtrail")
    trail.create_trail(Name="main", S3BucketName="escher-trail-logs", IsMultiRegionTrail=True)
    trail.start_logging(Name="main")
    _client("efs").create_file_system(CreationToken="shared", Encrypted=False)
    iam.upload_server_certificate(ServerCertificateName="site", CertificateBody="-----BEGIN CERTIFICATE-----",
                                  PrivateKey="-----BEGIN PRIVATE KEY-----")  # fmt: skip


def test_each_aws_task_returns_exactly_the_attributes_it_declares(aws_env: MotoEmulator) -> None:
    seed(2)
    _one_of_everything()
    collector = AwsCollector([REGION], max_attempts=1)
    collector.account = collector.call("sts", REGION, "get_caller_identity")["Account"]
    tasks = collector.tasks()
    returned: dict[str, list[Record]] = {task.service: task.run() for task in tasks}
    link_backups([r for records in returned.values() for r in records])
    produced: dict[str, dict[str, set[str]]] = {}
    for service, records in returned.items():
        for rec in records:
            produced.setdefault(service, {}).setdefault(rec.type, set()).update(rec.attrs)
    declared = {t.service: {type_: set(attrs) for type_, attrs in t.produces.items()} for t in tasks}
    assert produced == declared


def test_every_aws_check_gives_a_verdict(aws_env: MotoEmulator) -> None:
    from escher.config import Settings
    from escher.scans.engine import select_checks
    from escher.scans.runner import ScanOptions, run_scan

    seed(2)
    _one_of_everything()
    result = run_scan(Settings(), ScanOptions(clouds=["aws"], regions=[REGION], max_attempts=1))
    assert not result.inventory.errors, result.inventory.errors
    failed = {f.check_id for f in result.failed}
    silent = [
        c.id for c in select_checks(clouds=["aws"]) if c.id not in failed and not result.passed.get(c.id)
    ]
    assert silent == [], silent
    # the estate's production and console resources fail where they should (the verdicts are not all passes)
    assert failed >= {"aws.ec2.instance_overprovisioned", "aws.ec2.volume_backup_age", "aws.iam.user_console_mfa",
                      "aws.rds.multi_az", "aws.ec2.instance_idle"}  # fmt: skip
    resize = next(f for f in result.failed if f.check_id == "aws.ec2.instance_overprovisioned")
    assert resize.fix_params == {"instance_type": "m5.large"}
