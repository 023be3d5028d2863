"""Tag any AWS resource the scan collects: ``aws.tagging.tag_resource``.

The Resource Groups Tagging API (``TagResources`` / ``GetResources`` by ARN) for every collected type it covers;
CloudTrail trails and SQS queues through their services' own calls (``AddTags`` / ``ListTags``, ``TagQueue`` /
``ListQueueTags``: moto's Tagging API covers neither, so these are the paths proven here). The target is an ARN,
or the scan's id with ``resource_type`` (``i-0abc`` + ``aws.ec2.instance``; the ARN is built from the account STS
names: GetCallerIdentity needs no permission). IAM users, roles and policies are refused: a tag on a principal
can grant access where policies test ``aws:PrincipalTag`` / ``iam:ResourceTag``.
"""

from __future__ import annotations

from typing import Any

from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops._tagging import TagParams
from escher.ops.model import Call, OpError, Risk, operation

__all__ = ["aws_arn"]

# the scan's type -> (service, ARN template) for the ids that are not ARNs; {p}artition {r}egion {a}ccount {i}d
_AWS_ARNS: dict[str, str] = {
    "aws.ec2.instance": "arn:{p}:ec2:{r}:{a}:instance/{i}",
    "aws.ec2.volume": "arn:{p}:ec2:{r}:{a}:volume/{i}",
    "aws.ec2.snapshot": "arn:{p}:ec2:{r}::snapshot/{i}",
    "aws.ec2.image": "arn:{p}:ec2:{r}::image/{i}",
    "aws.ec2.security_group": "arn:{p}:ec2:{r}:{a}:security-group/{i}",
    "aws.ec2.network_acl": "arn:{p}:ec2:{r}:{a}:network-acl/{i}",
    "aws.ec2.vpc": "arn:{p}:ec2:{r}:{a}:vpc/{i}",
    "aws.ec2.eip": "arn:{p}:ec2:{r}:{a}:elastic-ip/{i}",
    "aws.s3.bucket": "arn:{p}:s3:::{i}",
    "aws.rds.instance": "arn:{p}:rds:{r}:{a}:db:{i}",
    "aws.rds.snapshot": "arn:{p}:rds:{r}:{a}:snapshot:{i}",
    "aws.dynamodb.table": "arn:{p}:dynamodb:{r}:{a}:table/{i}",
    "aws.logs.log_group": "arn:{p}:logs:{r}:{a}:log-group:{i}",
    "aws.efs.file_system": "arn:{p}:elasticfilesystem:{r}:{a}:file-system/{i}",
    "aws.lambda.function": "arn:{p}:lambda:{r}:{a}:function:{i}",
}
# the services whose ARNs the scan records as its ids (or that build above) and that this operation tags
_AWS_SERVICES = {
    "ec2", "s3", "rds", "dynamodb", "logs", "elasticfilesystem", "lambda", "sqs", "sns", "kms", "cloudtrail",
}  # fmt: skip
_AWS_REFUSED = {
    "iam": "a tag on an IAM user, role or policy can grant access (policies that test aws:PrincipalTag or "
    "iam:ResourceTag), so Escher does not change them",
}
_AWS_NOT_RESOURCES = {"aws.iam.account", "aws.cloudtrail.account", "aws.ec2.region_settings"}


def _account(call: Call, region: str) -> str:
    return str(call.ctx.aws("sts", region).get_caller_identity()["Account"])


def aws_arn(call: Call) -> tuple[str, str]:
    """(ARN, region) of the target: an ARN as given, or built from the scan's id and ``resource_type``."""
    target, kind = call.target.resource_id, call.params.resource_type
    region = call.target.region or call.ctx.default_aws_region or "us-east-1"
    if target.startswith("arn:"):
        parts = target.split(":", 5)
        if len(parts) < 6:
            raise OpError(f"{target!r} is not an ARN", hint="arn:aws:<service>:<region>:<account>:<resource>")
        service = parts[2]
        if service in _AWS_REFUSED:
            raise OpError(f"{target} cannot be tagged by Escher: {_AWS_REFUSED[service]}",
                          hint=f"tag it yourself with 'aws {service} tag-...' if you mean to")  # fmt: skip
        if service not in _AWS_SERVICES:
            raise OpError(
                f"{target} is a {service} resource, which the scan does not collect and this operation does not tag",
                hint="tag it with the service's own CLI",
            )
        return target, parts[3] or region
    if kind is None:
        raise OpError(
            f"{target!r} is not an ARN: say what it is with resource_type (e.g. aws.ec2.instance)",
            hint="or pass the resource's ARN as the target",
        )
    if kind in _AWS_NOT_RESOURCES:
        raise OpError(f"{kind} is an account or region setting, not a resource: it has no tags",
                      hint="tag the resources themselves")  # fmt: skip
    if kind.startswith("aws.iam."):
        raise OpError(f"{target} cannot be tagged by Escher: {_AWS_REFUSED['iam']}",
                      hint="tag it yourself with 'aws iam tag-user' / 'tag-role' / 'tag-policy' if you mean to")  # fmt: skip
    template = _AWS_ARNS.get(kind)
    if template is None:
        raise OpError(
            f"cannot tag a {kind} by its id {target!r}",
            hint=f"pass its ARN as the target, or one of the types {', '.join(sorted(_AWS_ARNS))}",
        )
    partition = (
        "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    account = _account(call, region) if "{a}" in template else ""
    return template.format(p=partition, r=region, a=account, i=target), region


def _service(arn: str) -> str:
    return arn.split(":", 3)[2]


def _queue_url(call: Call, arn: str, region: str) -> str:
    _, _, _, _, account, name = arn.split(":", 5)
    sqs = call.ctx.aws("sqs", region)
    with missing_as_not_found(call, "SQS queue"):
        return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def fetch_aws_tags(call: Call) -> dict[str, Any]:
    arn, region = aws_arn(call)
    service = _service(arn)
    if service == "cloudtrail":  # the service's own tag calls (the emulator's Tagging API covers no trails)
        with missing_as_not_found(call, "CloudTrail trail"):
            found = call.ctx.aws("cloudtrail", region).list_tags(ResourceIdList=[arn])["ResourceTagList"]
        tags = {t["Key"]: t["Value"] for r in found for t in r.get("TagsList") or []}
    elif service == "sqs":  # likewise for queues; SQS names them by URL
        reply = call.ctx.aws("sqs", region).list_queue_tags(QueueUrl=_queue_url(call, arn, region))
        tags = dict(reply.get("Tags") or {})
    else:
        # a resource never tagged is not listed by GetResources: no tags yet (TagResources says if it is missing)
        pages = call.ctx.aws("resourcegroupstaggingapi", region).get_paginator("get_resources")
        tags = {
            t["Key"]: t["Value"]
            for page in pages.paginate(ResourceARNList=[arn])
            for r in page.get("ResourceTagMappingList", [])
            if r["ResourceARN"] == arn
            for t in r.get("Tags") or []
        }
    return {"arn": arn, **flat_tags(tags)}


def _tag_aws(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    arn, region = state["arn"], aws_arn(call)[1]
    service = _service(arn)
    if service == "cloudtrail":
        tags = [{"Key": k, "Value": v} for k, v in sorted(call.params.tags.items())]
        call.ctx.aws("cloudtrail", region).add_tags(ResourceId=arn, TagsList=tags)
        return {"arn": arn, "via": "cloudtrail:AddTags"}
    if service == "sqs":
        url = _queue_url(call, arn, region)
        call.ctx.aws("sqs", region).tag_queue(QueueUrl=url, Tags=dict(call.params.tags))
        return {"arn": arn, "via": "sqs:TagQueue"}
    reply = call.ctx.aws("resourcegroupstaggingapi", region).tag_resources(
        ResourceARNList=[arn], Tags=dict(call.params.tags)
    )
    failed = (reply.get("FailedResourcesMap") or {}).get(arn)
    if failed:
        raise OpError(
            f"AWS did not tag {arn}: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}",
            hint="check that the resource exists in this region and that the worker may tag it",
        )
    return {"arn": arn, "via": "tag:TagResources"}


operation(
    id="aws.tagging.tag_resource",
    description="Add or overwrite tags on any resource the scan collects (EC2, S3, RDS, DynamoDB, Lambda, "
    "SQS, SNS, KMS, CloudWatch Logs, EFS, CloudTrail), by ARN or by the scan's id and type; other tags kept. "
    "IAM principals and policies are refused.",
    risk=Risk.low,
    permissions=(
        "tag:GetResources",
        "tag:TagResources",
        # TagResources needs the service's own tagging permission for each resource as well
        "ec2:CreateTags",
        "s3:GetBucketTagging",
        "s3:PutBucketTagging",
        "rds:AddTagsToResource",
        "dynamodb:TagResource",
        "lambda:TagResource",
        "sqs:GetQueueUrl",  # queues: SQS's own calls, by URL
        "sqs:ListQueueTags",
        "sqs:TagQueue",
        "sns:TagResource",
        "kms:TagResource",
        "logs:TagResource",
        "elasticfilesystem:TagResource",
        "cloudtrail:ListTags",
        "cloudtrail:AddTags",
    ),
    cli="aws resourcegroupstaggingapi tag-resources --region {region} --resource-arn-list <arn of {target}> "
    "--tags {tags}",
    fetch=fetch_aws_tags,
    wanted=lambda call, state: flat_tags(call.params.tags),
    apply=_tag_aws,
    params=TagParams,
    reversible=True,
)
