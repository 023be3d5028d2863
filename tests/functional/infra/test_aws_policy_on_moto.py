"""The generated AWS worker policy, enforced by moto's IAM: the role cannot touch its own audit bucket's
configuration, yet appends audit records there and still fixes the user's buckets.

The policy is the one ``escher extend aws --plan`` generates with every catalogue operation enabled; the plan's
mocks name the buckets ``escher-state-mock`` / ``escher-audit-mock``, and the test creates exactly those.

moto quirks met here (moto 5.2):
- Enforcement is process-wide: ``/moto-api/reset-auth`` sets ``INITIAL_NO_AUTH_ACTION_COUNT`` for the in-process
  server; the test sets it to 0 only after its setup, and back to ``inf`` afterwards, so no other test sees it.
- S3 requests are checked against the bucket / object ARN; EC2 (and other query APIs) against ``"*"`` only, so
  statements scoped to instance or snapshot ARNs never match there and cannot be verified on moto.
- S3 requests are authorized by their API operation name, not the IAM action: ``ListObjectsV2`` is checked as
  ``s3:ListObjectsV2`` (IAM: ``s3:ListBucket``), ``PutPublicAccessBlock`` as ``s3:PutPublicAccessBlock`` (IAM:
  ``s3:PutBucketPublicAccessBlock``), ``HeadObject`` as ``s3:HeadObject``. Such calls are denied on moto
  whatever the policy says, so this test uses only calls whose names coincide (``PutObject``, ``GetObject``,
  ``DeleteObject``, ``PutBucketPolicy``, ``PutBucketVersioning``, ``DeleteBucket``).
- ``/moto-api/reset-auth`` reads the raw body: sent with urllib's default form content type it answers 500.
- A statement whose Condition does not hold is treated as an explicit deny (AWS: it just does not apply), so
  the conditional ``ec2:ModifyInstanceAttribute`` allow is not exercised here either; the IAM evaluator in
  ``iam_eval.py`` covers both (``test_own_storage.py``).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from escher.emulators import MotoEmulator
from escher.infra.permissions import default_operations, operation_permissions
from escher.infra.plan import run_plan
from tests.functional.infra.conftest import make_spec

pytest.importorskip("pulumi")
pytest.importorskip("escher.ops")
boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402  (after the skip: botocore comes with boto3)
from botocore.exceptions import ClientError  # noqa: E402

ACCOUNT = "123456789012"  # moto's default account, also the plan's mock account
NO_RETRY = Config(retries={"max_attempts": 1})


def _reset_auth(moto: MotoEmulator, count: str) -> None:
    # text/plain: urllib's default form content type makes the server parse the body away (a 500)
    url = f"{moto.endpoint_url}/moto-api/reset-auth"
    req = urllib.request.Request(
        url, data=count.encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def _client(service: str, moto: MotoEmulator, **credentials: str) -> Any:
    return boto3.client(
        service, endpoint_url=moto.endpoint_url, region_name="us-east-1", config=NO_RETRY, **credentials
    )


@pytest.fixture
def worker_s3(aws_env: MotoEmulator, bundle: str) -> Iterator[tuple[Any, dict[str, str]]]:
    """An S3 client acting as the worker role (the generated policy), IAM enforced from then on."""
    ops = default_operations("aws")
    plan = run_plan(
        replace(make_spec("aws", bundle), operations=ops, permissions=operation_permissions("aws", ops))
    )
    (policy,) = [r.settings["policy"] for r in plan.resources if r.name == "worker-policy"]
    buckets = {
        "state": plan.outputs["state_bucket"],
        "audit": plan.outputs["audit_bucket"],
        "user": "customer-data",
    }

    s3 = _client("s3", aws_env)
    s3.create_bucket(Bucket=buckets["state"])
    s3.create_bucket(Bucket=buckets["audit"], ObjectLockEnabledForBucket=True)
    s3.create_bucket(Bucket=buckets["user"])
    iam = _client("iam", aws_env)
    iam.create_user(UserName="admin")
    admin_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(admin_policy))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="escher-worker", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="escher-worker", PolicyName="worker", PolicyDocument=policy)

    _reset_auth(aws_env, "0")  # from here on, every request is checked against the caller's policies
    try:
        sts = _client(
            "sts", aws_env, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/escher-worker", RoleSessionName="worker"
        )["Credentials"]
        worker = _client(
            "s3",
            aws_env,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        yield worker, buckets
    finally:
        _reset_auth(aws_env, "inf")


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["Error"]["Code"] == "AccessDenied"
    return False


def test_the_worker_role_appends_audit_records_but_cannot_change_the_audit_bucket(
    worker_s3: tuple[Any, dict[str, str]],
) -> None:
    s3, buckets = worker_s3
    audit = buckets["audit"]
    s3.put_object(Bucket=audit, Key="audit/2026/record.json", Body=b"{}")
    assert s3.get_object(Bucket=audit, Key="audit/2026/record.json")["Body"].read() == b"{}"

    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    assert _denied(s3.put_bucket_policy, Bucket=audit, Policy=policy)
    assert _denied(s3.delete_bucket, Bucket=audit)
    # the catalogue allows s3:PutBucketVersioning on every bucket: here only the explicit deny stops it
    assert _denied(s3.put_bucket_versioning, Bucket=audit, VersioningConfiguration={"Status": "Suspended"})
    assert _denied(s3.delete_object, Bucket=audit, Key="audit/2026/record.json")


def test_the_same_role_still_fixes_the_user_s_buckets_and_keeps_its_state(
    worker_s3: tuple[Any, dict[str, str]],
) -> None:
    # the denies are what stop it on its own buckets: the catalogue's S3 fixes work everywhere else
    s3, buckets = worker_s3
    s3.put_bucket_versioning(Bucket=buckets["user"], VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=buckets["user"])["Status"] == "Enabled"
    assert _denied(
        s3.put_bucket_versioning, Bucket=buckets["state"], VersioningConfiguration={"Status": "Suspended"}
    )
    s3.put_object(Bucket=buckets["state"], Key="markers/m1", Body=b"claimed")
    assert s3.get_object(Bucket=buckets["state"], Key="markers/m1")["Body"].read() == b"claimed"
    assert _denied(s3.put_bucket_policy, Bucket=buckets["user"], Policy="{}")  # not in the catalogue at all
