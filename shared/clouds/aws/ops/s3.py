"""AWS S3 bucket hardening: block public access, default encryption, versioning. The target is the bucket."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from escher.ops._common import missing_as_not_found
from escher.ops.context import CloudContext
from escher.ops.model import Call, Params, Risk, Target, operation

BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _s3(call: Call) -> Any:
    return call.ctx.aws("s3", call.target.region)


def _head(call: Call) -> None:
    with missing_as_not_found(call, "S3 bucket"):
        _s3(call).head_bucket(Bucket=call.target.resource_id)


def _absent(call: Call, exc: BaseException, *codes: str) -> bool:
    from escher.clouds.aws import error_code

    return error_code(exc) in codes


# S3 has no server-side tag filter on ListBuckets: list, then read each bucket's tags (and its region, when the
# listing does not carry it). One call per bucket: fine for hundreds of buckets, slow for many thousands.
DISCOVER_PERMISSIONS = ("s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetBucketTagging")


def discover_buckets(ctx: CloudContext, region: str | None, tags: dict[str, str]) -> list[Target]:
    """The buckets carrying every ``tags`` key=value (in ``region``, when one is given)."""
    from escher.clouds.aws import error_code

    s3 = ctx.aws("s3", region)
    found = []
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        if region:
            where = bucket.get("BucketRegion") or (
                s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
            )
            if {"EU": "eu-west-1"}.get(where, where) != region:
                continue
        try:
            tag_set = s3.get_bucket_tagging(Bucket=name).get("TagSet", [])
        except ctx.sdk_errors("aws") as exc:
            if error_code(exc) == "NoSuchTagSet":
                continue
            raise
        have = {t["Key"]: t["Value"] for t in tag_set}
        if all(have.get(k) == v for k, v in tags.items()):
            found.append(Target("aws", name, region))
    return found


def fetch_public_access_block(call: Call) -> dict[str, Any]:
    _head(call)
    try:
        conf = _s3(call).get_public_access_block(Bucket=call.target.resource_id)[
            "PublicAccessBlockConfiguration"
        ]
    except call.ctx.sdk_errors("aws") as exc:
        if not _absent(call, exc, "NoSuchPublicAccessBlockConfiguration"):
            raise
        conf = {}
    return {flag: bool(conf.get(flag, False)) for flag in BLOCK_FLAGS}


operation(
    id="aws.s3.block_public_access",
    description="Turn on all four S3 Block Public Access settings of a bucket (make a public bucket private).",
    risk=Risk.medium,
    permissions=(
        "s3:ListBucket",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        *DISCOVER_PERMISSIONS,
    ),
    cli="aws s3api put-public-access-block --bucket {target} --public-access-block-configuration "
    "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
    fetch=fetch_public_access_block,
    wanted=lambda call, state: dict.fromkeys(BLOCK_FLAGS, True),
    apply=lambda call, state: (
        _s3(call).put_public_access_block(
            Bucket=call.target.resource_id, PublicAccessBlockConfiguration=dict.fromkeys(BLOCK_FLAGS, True)
        )
        and None
    ),
    reversible=True,
    discover=discover_buckets,
)


class EncryptionParams(Params):
    algorithm: Literal["AES256", "aws:kms"] = "AES256"
    kms_key_id: str | None = Field(default=None, description="with aws:kms; none: the AWS managed key")


def fetch_encryption(call: Call) -> dict[str, Any]:
    _head(call)
    try:
        rules = _s3(call).get_bucket_encryption(Bucket=call.target.resource_id)[
            "ServerSideEncryptionConfiguration"
        ]["Rules"]
    except call.ctx.sdk_errors("aws") as exc:
        if not _absent(call, exc, "ServerSideEncryptionConfigurationNotFoundError"):
            raise
        rules = []
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    return {"sse_algorithm": default.get("SSEAlgorithm"), "kms_key_id": default.get("KMSMasterKeyID")}


def _wanted_encryption(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    wanted: dict[str, Any] = {"sse_algorithm": call.params.algorithm}
    if call.params.kms_key_id:
        wanted["kms_key_id"] = call.params.kms_key_id
    return wanted


def _put_encryption(call: Call, state: dict[str, Any]) -> None:
    default: dict[str, str] = {"SSEAlgorithm": call.params.algorithm}
    if call.params.kms_key_id:
        default["KMSMasterKeyID"] = call.params.kms_key_id
    _s3(call).put_bucket_encryption(
        Bucket=call.target.resource_id,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
    )


operation(
    id="aws.s3.enable_default_encryption",
    description="Set a bucket's default encryption (SSE-S3 or SSE-KMS) for new objects.",
    risk=Risk.low,
    permissions=(
        "s3:ListBucket",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        *DISCOVER_PERMISSIONS,
    ),
    cli="aws s3api put-bucket-encryption --bucket {target} --server-side-encryption-configuration "
    '\'{{"Rules":[{{"ApplyServerSideEncryptionByDefault":{{"SSEAlgorithm":"{algorithm}"}}}}]}}\'',
    fetch=fetch_encryption,
    wanted=_wanted_encryption,
    apply=_put_encryption,
    params=EncryptionParams,
    reversible=True,
    discover=discover_buckets,
)


def fetch_versioning(call: Call) -> dict[str, Any]:
    _head(call)
    return {"versioning": _s3(call).get_bucket_versioning(Bucket=call.target.resource_id).get("Status")}


operation(
    id="aws.s3.enable_versioning",
    description="Turn on versioning for a bucket (overwritten and deleted objects stay recoverable).",
    risk=Risk.low,
    permissions=("s3:ListBucket", "s3:GetBucketVersioning", "s3:PutBucketVersioning", *DISCOVER_PERMISSIONS),
    cli="aws s3api put-bucket-versioning --bucket {target} --versioning-configuration Status=Enabled",
    fetch=fetch_versioning,
    wanted=lambda call, state: {"versioning": "Enabled"},
    apply=lambda call, state: (
        _s3(call).put_bucket_versioning(
            Bucket=call.target.resource_id, VersioningConfiguration={"Status": "Enabled"}
        )
        and None
    ),
    reversible=True,
    discover=discover_buckets,
)
