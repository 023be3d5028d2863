"""The deployed AWS worker under moto's IAM enforcement: it runs with the credentials of the role it assumes,
and that role holds the worker policy the Pulumi program generates (from ``escher extend aws --plan``'s run).

moto's IAM checks S3 requests by API operation name where AWS checks the IAM action (``ListObjectsV2`` is
``s3:ListBucket`` on AWS, so is ``HeadBucket``, ``PutPublicAccessBlock`` is ``s3:PutBucketPublicAccessBlock``, ``HeadObject`` is
``s3:GetObject``; see tests/functional/infra/test_aws_policy_on_moto.py). The role here gets, beside the generated
policy, exactly those aliases: each statement that allows an IAM action also allows moto's name for it, on the
same resources, and nothing else (:data:`MOTO_NAMES`). With auth on, moto also fails the signature of REST-JSON
requests sent under a path (Lambda ``ListFunctions``, GuardDuty ``ListDetectors``): those two collection tasks are
reported not read with ``SignatureDoesNotMatch``, which the test tells apart from a denial.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from escher.emulators import MotoEmulator
from tests.functional.deployed.harness import Unpacked, run_worker, unpacked_bundle
from tests.functional.deployed.test_aws_deployed import OPERATIONS, REGION, Deployment, public_bucket

pytest.importorskip("pulumi")

ACCOUNT = "123456789012"
# IAM action -> the names moto authorizes the same request under
MOTO_NAMES: dict[str, tuple[str, ...]] = {
    "s3:ListBucket": ("s3:ListObjectsV2", "s3:ListObjects", "s3:HeadBucket"),
    "s3:GetObject": ("s3:HeadObject",),
    "s3:PutBucketPublicAccessBlock": ("s3:PutPublicAccessBlock",),
    "s3:GetBucketPublicAccessBlock": ("s3:GetPublicAccessBlock",),
    "s3:ListAllMyBuckets": ("s3:ListBuckets",),
    "s3:GetEncryptionConfiguration": ("s3:GetBucketEncryption",),
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return unpacked_bundle("aws", tmp_path_factory.mktemp("aws-iam-bundle"))


def with_moto_names(policy: dict[str, Any]) -> dict[str, Any]:
    statements = []
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        extra = [m for a in actions for m in MOTO_NAMES.get(a, ())]
        statements.append({**statement, "Action": sorted({*actions, *extra})} if extra else statement)
    return {**policy, "Statement": statements}


def reset_auth(moto: MotoEmulator, count: str) -> None:
    url = f"{moto.endpoint_url}/moto-api/reset-auth"
    req = urllib.request.Request(
        url, data=count.encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def generated_policy(deployment: Deployment) -> dict[str, Any]:
    from escher.infra.permissions import operation_permissions
    from escher.infra.plan import run_plan
    from tests.functional.infra.conftest import make_spec

    spec = replace(
        make_spec("aws", str(deployment.bundle_run.bundle.path), region=REGION),
        operations=OPERATIONS,
        permissions=operation_permissions("aws", OPERATIONS),
    )
    plan = run_plan(spec)
    (policy,) = [r.settings["policy"] for r in plan.resources if r.name == "worker-policy"]
    assert plan.outputs["state_bucket"] == deployment.env["ESCHER_STATE_BUCKET"]
    return dict(json.loads(policy))


def test_the_daily_job_and_the_fix_run_with_the_generated_policy_only(
    aws_env: MotoEmulator, escher_home: Path, bundle: Unpacked, tmp_path: Path
) -> None:
    from escher.demo.events import bucket_made_public

    deployment = Deployment(aws_env, escher_home, bundle)
    deployment.cli("remediation", "enable", "make_public_buckets_private")
    public_bucket(deployment.s3, "shop-exports")
    aws_env.set_cost_and_usage([])
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="admin")
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(everything))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"}}]}  # fmt: skip
    iam.create_role(RoleName="escher-worker", AssumeRolePolicyDocument=json.dumps(trust))
    policy = with_moto_names(generated_policy(deployment))
    iam.put_role_policy(RoleName="escher-worker", PolicyName="worker", PolicyDocument=json.dumps(policy))
    reset_auth(aws_env, "0")
    try:
        sts = boto3.client(
            "sts",
            region_name=REGION,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/escher-worker", RoleSessionName="worker"
        )["Credentials"]
        # what Lambda hands the function: the role's session credentials
        env = {
            **deployment.platform_env(),
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
        }
        event = bucket_made_public("iam-evt-1", "shop-exports", region=REGION)
        run = run_worker(bundle, env, [deployment.schedule_input, event], tmp_path)
    finally:
        reset_auth(aws_env, "inf")
    daily, fixed = run.results
    assert "ok" in daily, daily
    parts = daily["ok"]["parts"]
    # everything the scan reads was allowed; the tasks that call REST-JSON APIs under a path (Lambda's
    # /2015-03-31/functions/, GuardDuty's /detector in region_settings, EFS's /2015-02-01/file-systems) fail
    # moto's signature check whenever auth is on, before any policy is read: a moto quirk, never an AccessDenied
    assert parts["scan"]["ok"], parts["scan"]
    not_read = {entry.split(":")[0]: entry for entry in parts["scan"]["not_read"]}
    # moto has no IAM Access Analyzer, and the worker's isolated process has no test replay in front of it
    assert "moto has no IAM Access Analyzer" in not_read.pop("aws/us-east-1/accessanalyzer", ""), not_read
    assert set(not_read) <= {"aws/us-east-1/lambda", "aws/us-east-1/region_settings", "aws/us-east-1/efs"}, (
        not_read
    )
    assert all("SignatureDoesNotMatch" in e and "AccessDenied" not in e for e in not_read.values()), not_read
    assert parts["scan"]["resources"] > 0 and parts["digest"]["ok"] and parts["retention"]["ok"]
    assert parts["cost"]["ok"] and parts["report"]["ok"], parts
    alert = deployment.read(f"alerts/{fixed['ok']['alert_id']}.json")
    assert fixed["ok"]["outcome"] == "auto_resolved", alert["summary"]
    block = deployment.s3.get_public_access_block(Bucket="shop-exports")["PublicAccessBlockConfiguration"]
    assert all(block.values())
