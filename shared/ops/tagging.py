"""Tag or label any resource the scan collects: one operation per cloud, taking the resource's id (and type).

- AWS ``aws.tagging.tag_resource``: the Resource Groups Tagging API (``TagResources`` / ``GetResources`` by
  ARN) for every collected type it covers; CloudTrail trails and SQS queues through their services' own calls
  (``AddTags`` / ``ListTags``, ``TagQueue`` / ``ListQueueTags``: moto's Tagging API covers neither, so these
  are the paths proven here).
  The target is an ARN, or the scan's id with ``resource_type`` (``i-0abc`` + ``aws.ec2.instance``; the ARN is
  built from the account STS names: GetCallerIdentity needs no permission). IAM users, roles and policies are refused: a tag on a principal can grant
  access where policies test ``aws:PrincipalTag`` / ``iam:ResourceTag``.
- Azure ``azure.resources.tag_resource``: the Tags API at the resource's scope, ``PATCH {scope}/providers/
  Microsoft.Resources/tags/default`` with ``operation: Merge`` (api-version 2021-04-01): one call for every ARM
  type (a resource group or a subscription too). Blob containers are not ARM-taggable: refused.
- GCP ``gcp.resources.set_labels``: labels per API (Compute instances, disks and snapshots with their label
  fingerprint; Cloud Storage buckets; Cloud SQL ``settings.userLabels``; Cloud Run services' ``labels``);
  firewall rules, subnetworks, service accounts and project settings have no labels: refused.

Tags are merged: existing tags are kept, the named ones added or overwritten. Verify reads them back.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from escher.lazy import require
from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops.model import Call, OpError, Params, Risk, operation

__all__ = ["aws_arn"]


class TagParams(Params):
    tags: dict[str, str] = Field(min_length=1, description="key -> value, added or overwritten")
    resource_type: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]+\.[a-z0-9_]+\.[a-z0-9_]+$",
        description="the scan's type of the target (aws.ec2.instance, ...) when the target is not an ARN",
    )


# -- AWS -------------------------------------------------------------------------------------------------------
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


# -- Azure -----------------------------------------------------------------------------------------------------
TAGS_API_VERSION = "2021-04-01"
_ARM_SCOPE = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-fA-F-]{36})(?:/resourceGroups/[^/]+(?:/providers/.+)?)?$"
)


def _arm_scope(call: Call) -> tuple[str, str]:
    """(scope, subscription) of the target: a resource id, a resource group or a subscription."""
    scope = call.target.resource_id.rstrip("/")
    match = _ARM_SCOPE.match(scope)
    if not match:
        raise OpError(
            f"{scope!r} is not an Azure resource id",
            hint="use /subscriptions/<id>[/resourceGroups/<rg>[/providers/<provider>/<type>/<name>]]",
        )
    if "/blobservices/" in scope.lower() or "/fileservices/" in scope.lower():
        raise OpError(
            f"{scope} is a storage container or share: ARM tags do not apply to it",
            hint="tag its storage account instead (containers carry metadata, not tags)",
        )
    return scope, match.group("sub")


def _tags_request(call: Call, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    rest = require("azure.core.rest", "azure")
    scope, subscription = _arm_scope(call)
    client = call.ctx.azure("compute", subscription)  # any installed management client's pipeline will do
    request = rest.HttpRequest(
        method,
        f"{scope}/providers/Microsoft.Resources/tags/default",
        params={"api-version": TAGS_API_VERSION},
        json=body,
    )
    response = client.send_request(request)
    response.raise_for_status()
    reply: dict[str, Any] = response.json()
    return reply


def fetch_azure_tags(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "Azure resource"):
        reply = _tags_request(call, "GET")
    return flat_tags((reply.get("properties") or {}).get("tags"))


def _tag_azure(call: Call, state: dict[str, Any]) -> None:
    body = {"operation": "Merge", "properties": {"tags": dict(call.params.tags)}}
    with missing_as_not_found(call, "Azure resource"):
        _tags_request(call, "PATCH", body)


operation(
    id="azure.resources.tag_resource",
    description="Add or overwrite tags on any Azure resource, resource group or subscription (the Tags API's "
    "Merge: other tags kept). Blob containers are refused (they carry metadata, not tags).",
    risk=Risk.low,
    permissions=("Microsoft.Resources/tags/read", "Microsoft.Resources/tags/write"),
    cli="az tag update --resource-id {target} --operation Merge --tags {tags}",
    fetch=fetch_azure_tags,
    wanted=lambda call, state: flat_tags(call.params.tags),
    apply=_tag_azure,
    params=TagParams,
    reversible=True,
)


# -- GCP -------------------------------------------------------------------------------------------------------
_GCP_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GCP_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_GCP_UNLABELLED = {
    "firewalls": "VPC firewall rules have no labels",
    "subnetworks": "subnetworks have no labels",
    "serviceAccounts": "service accounts have no labels",
}


def _gcp_kind(resource_id: str) -> str:
    """instance / disk / snapshot / sql / run / bucket, from the path the scan records (a bucket: its name)."""
    parts = resource_id.strip("/").split("/")
    if len(parts) == 1 and re.match(r"^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$", parts[0]):
        return "bucket"
    if (
        len(parts) == 6
        and parts[0] == "projects"
        and parts[2] == "zones"
        and parts[4] in ("instances", "disks")
    ):
        return parts[4][:-1]
    if len(parts) == 5 and parts[0] == "projects" and parts[2] == "global" and parts[3] == "snapshots":
        return "snapshot"
    if len(parts) == 4 and parts[0] == "projects" and parts[2] == "instances":
        return "sql"
    if len(parts) == 6 and parts[0] == "projects" and parts[2] == "locations" and parts[4] == "services":
        return "run"
    for segment, why in _GCP_UNLABELLED.items():
        if segment in parts:
            raise OpError(f"{resource_id} cannot be labelled: {why}",
                          hint="label the resources that carry labels (instances, disks, buckets, ...)")  # fmt: skip
    raise OpError(
        f"{resource_id!r} is not a GCP resource this operation labels",
        hint="use a bucket name, projects/P/zones/Z/instances|disks/N, projects/P/global/snapshots/N, "
        "projects/P/instances/N (Cloud SQL) or projects/P/locations/L/services/N (Cloud Run)",
    )


def _gcp_labels(call: Call) -> dict[str, str]:
    for key, value in call.params.tags.items():
        if not _GCP_LABEL.match(key) or not _GCP_VALUE.match(value):
            raise OpError(
                f"{key}={value} is not a GCP label",
                hint="keys start with a lowercase letter; keys and values are lowercase letters, digits, '_' "
                "and '-' (at most 63)",
            )
    return dict(call.params.tags)


def _sql_name(resource_id: str) -> tuple[str, str]:
    parts = resource_id.strip("/").split("/")
    return parts[1], parts[3]


def fetch_gcp_labels(call: Call) -> dict[str, Any]:
    rid = call.target.resource_id
    kind = _gcp_kind(rid)
    _gcp_labels(call)  # a label GCP refuses is the plan's error, before anything is read
    parts = rid.strip("/").split("/")
    if kind == "bucket":
        with missing_as_not_found(call, "Cloud Storage bucket"):
            labels = dict(call.ctx.gcs().get_bucket(rid).labels or {})
        return {"kind": kind, **flat_tags(labels)}
    if kind in ("instance", "disk"):
        client = call.ctx.gcp_compute(f"{kind}s")
        with missing_as_not_found(call, f"Compute Engine {kind}"):
            found = client.get(project=parts[1], zone=parts[3], **{kind: parts[5]})
        return {"kind": kind, "label_fingerprint": found.label_fingerprint, **flat_tags(dict(found.labels))}
    if kind == "snapshot":
        with missing_as_not_found(call, "snapshot"):
            found = call.ctx.gcp_compute("snapshots").get(project=parts[1], snapshot=parts[4])
        return {"kind": kind, "label_fingerprint": found.label_fingerprint, **flat_tags(dict(found.labels))}
    if kind == "sql":
        project, name = _sql_name(rid)
        with missing_as_not_found(call, "Cloud SQL instance"):
            inst = call.ctx.gcp_sql().instances().get(project=project, instance=name).execute(num_retries=3)
        return {"kind": kind, **flat_tags((inst.get("settings") or {}).get("userLabels"))}
    with missing_as_not_found(call, "Cloud Run service"):
        svc = _run_services(call)[1].get(name=rid).execute(num_retries=3)
    return {"kind": kind, "etag": svc.get("etag"), **flat_tags(svc.get("labels"))}


def _run_services(call: Call) -> tuple[Any, Any]:
    """A Cloud Run Admin v2 client (the shipped discovery document) and its services collection; built per call
    (httplib2 is not thread-safe)."""
    discovery = require("googleapiclient.discovery", "gcp")
    if call.ctx.gcp_discovery_http is not None:
        run = discovery.build("run", "v2", http=call.ctx.gcp_discovery_http, static_discovery=True,
                              cache_discovery=False)  # fmt: skip
    else:
        from escher.clouds.gcp import credentials

        creds = call.ctx.gcp_credentials if call.ctx.gcp_credentials is not None else credentials()
        run = discovery.build("run", "v2", credentials=creds, static_discovery=True, cache_discovery=False)
    return run, run.projects().locations().services()


def _wait_compute(operation: Any) -> None:
    operation.result(timeout=600.0)


def _label_gcp(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    rid, kind = call.target.resource_id, state["kind"]
    merged = {
        **{k.removeprefix("tag:"): v for k, v in state.items() if k.startswith("tag:")},
        **_gcp_labels(call),
    }
    parts = rid.strip("/").split("/")
    compute = require("google.cloud.compute_v1", "gcp")
    if kind == "bucket":
        bucket = call.ctx.gcs().get_bucket(rid)
        bucket.labels = {**(bucket.labels or {}), **_gcp_labels(call)}
        bucket.patch()  # carries the bucket's metageneration: a concurrent change fails, is not lost
    elif kind == "instance":
        body = compute.InstancesSetLabelsRequest(label_fingerprint=state["label_fingerprint"], labels=merged)
        _wait_compute(call.ctx.gcp_compute("instances").set_labels(
            project=parts[1], zone=parts[3], instance=parts[5], instances_set_labels_request_resource=body))  # fmt: skip
    elif kind == "disk":
        body = compute.ZoneSetLabelsRequest(label_fingerprint=state["label_fingerprint"], labels=merged)
        _wait_compute(call.ctx.gcp_compute("disks").set_labels(
            project=parts[1], zone=parts[3], resource=parts[5], zone_set_labels_request_resource=body))  # fmt: skip
    elif kind == "snapshot":
        body = compute.GlobalSetLabelsRequest(label_fingerprint=state["label_fingerprint"], labels=merged)
        _wait_compute(call.ctx.gcp_compute("snapshots").set_labels(
            project=parts[1], resource=parts[4], global_set_labels_request_resource=body))  # fmt: skip
    elif kind == "sql":
        project, name = _sql_name(rid)
        sql = call.ctx.gcp_sql()
        op = sql.instances().patch(project=project, instance=name,
                                   body={"settings": {"userLabels": merged}}).execute(num_retries=3)  # fmt: skip
        _wait_sql(call, sql, project, op)
    else:
        body = {"labels": merged, "etag": state.get("etag")}
        run, services = _run_services(call)
        op = services.patch(name=rid, body=body, updateMask="labels").execute(num_retries=3)
        _wait_run(call, run, op)
        return {"operation": op.get("name")}
    return {}


def _wait_run(call: Call, run: Any, op: dict[str, Any]) -> None:
    """Cloud Run's google.longrunning operation until ``done``; its ``error`` is the resource's failure."""
    import time

    deadline = time.monotonic() + 600.0
    while not op.get("done"):
        if time.monotonic() > deadline:
            raise OpError(f"Cloud Run operation {op.get('name')} did not finish in 600 s",
                          hint=f"see it with 'gcloud run services describe {call.target.resource_id}'")  # fmt: skip
        time.sleep(0.5)
        op = run.projects().locations().operations().get(name=op["name"]).execute(num_retries=3)
    if op.get("error"):
        error = op["error"]
        raise OpError(
            f"Cloud Run could not label {call.target.resource_id}: {error.get('code')}: {error.get('message')}",
            hint="do what the message asks, then run this again",
        )


def _wait_sql(call: Call, sql: Any, project: str, op: dict[str, Any]) -> None:
    import time

    deadline = time.monotonic() + 600.0
    while op.get("status") != "DONE":
        if time.monotonic() > deadline:
            raise OpError(f"Cloud SQL operation {op.get('name')} did not finish in 600 s",
                          hint=f"see it with 'gcloud sql operations describe {op.get('name')}'")  # fmt: skip
        time.sleep(1.0)
        op = sql.operations().get(project=project, operation=op["name"]).execute(num_retries=3)
    errors = ((op.get("error") or {}).get("errors")) or []
    if errors:
        first = errors[0]
        raise OpError(
            f"Cloud SQL could not label {call.target.resource_id} (operation {op.get('name')}): "
            f"{first.get('code')}: {first.get('message')}",
            hint="do what the message asks, then run this again",
        )


operation(
    id="gcp.resources.set_labels",
    description="Add or overwrite labels on a GCP resource the scan collects: Compute Engine instances, disks "
    "and snapshots, Cloud Storage buckets, Cloud SQL instances (user labels), Cloud Run services; other labels "
    "kept. Firewall rules, subnetworks and service accounts have no labels: refused.",
    risk=Risk.low,
    permissions=(
        "compute.instances.get",
        "compute.instances.setLabels",
        "compute.disks.get",
        "compute.disks.setLabels",
        "compute.snapshots.get",
        "compute.snapshots.setLabels",
        "compute.zoneOperations.get",
        "compute.globalOperations.get",
        "storage.buckets.get",
        "storage.buckets.update",
        "cloudsql.instances.get",
        "cloudsql.instances.update",
        "run.services.get",
        "run.services.update",
        "run.operations.get",
        "iam.serviceAccounts.actAs",  # Cloud Run: every services.patch acts as the service's identity
    ),
    cli="gcloud <service> <resource> update {target} --update-labels={tags}",
    fetch=fetch_gcp_labels,
    wanted=lambda call, state: flat_tags(call.params.tags),
    apply=_label_gcp,
    params=TagParams,
    reversible=True,
)
