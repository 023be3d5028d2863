"""Where each generated permission applies, so the worker can act on the user's estate but not on itself.

The catalogue names *actions*; this module decides their *scope*:

- AWS: each destructive or tagging action is scoped to its resource type (and, where IAM has a key for it, to what the
  catalogue's operation changes: ``ec2:ModifyInstanceAttribute`` only when the request sets the instance
  type, so never ``userData``). Explicit ``Deny`` statements then keep the worker off its own state and audit
  buckets' configuration (policy, ACL, public access, versioning, encryption, lifecycle, Object Lock, delete)
  and off the audit objects' retention, whatever else the role is granted; another keeps its tag actions off
  every resource the Extension made (each is tagged ``escher=extend``).
- Azure: RBAC has no deny a customer can write, and role-assignment conditions only cover data actions, so
  the mutating actions on the resource providers an Escher install is made of (storage, key vault, web,
  event grid, authorization) and ``Microsoft.Resources/tags/write`` (the Tags API reaches every resource under
  its scope) are granted only at the resource groups the user names
  (``[extend] resource_groups``): never at the subscription, which would cover the audit account.
- GCP: mutating ``storage.*`` permissions go into a second custom role bound with an IAM condition that
  excludes Escher's own buckets by resource name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AWS_ACTION_SCOPES",
    "AZURE_OWN_PROVIDERS",
    "GCP_OWN_SERVICES",
    "MODIFY_INSTANCE_ATTRIBUTE_OPERATIONS",
    "OWN_AUDIT_OBJECT_DENY",
    "OWN_BUCKET_CONFIG_DENY",
    "OWN_OBJECT_DENY",
    "AwsScope",
    "aws_catalogue_statements",
    "aws_own_storage_denies",
    "azure_split_actions",
    "gcp_own_bucket_condition",
    "gcp_split_permissions",
]


# -- AWS -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AwsScope:
    """The resources (ARN templates: ``{partition}``, ``{account}``) and condition of some actions."""

    name: str  # the statement's Sid suffix
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


_INSTANCES = "arn:{partition}:ec2:*:{account}:instance/*"
_SNAPSHOTS = "arn:{partition}:ec2:*::snapshot/*"  # EBS snapshot ARNs carry no account
_BUCKETS = "arn:{partition}:s3:::*"
_VOLUMES = "arn:{partition}:ec2:*:{account}:volume/*"
_DB = "arn:{partition}:rds:*:{account}:db:*"
_FUNCTIONS = "arn:{partition}:lambda:*:{account}:function:*"  # an alias is function:NAME:ALIAS
_DB_SNAPSHOTS = "arn:{partition}:rds:*:{account}:snapshot:*"
_KEYS = "arn:{partition}:kms:*:{account}:key/*"

# ec2:ModifyInstanceAttribute changes one attribute per call; IAM sees which one as ec2:Attribute/<Name>.
# Each catalogue operation that calls it names its attribute here (a unit test checks the catalogue). Keys in
# one Null block are ANDed, so a second attribute would need a statement of its own (the test says so).
MODIFY_INSTANCE_ATTRIBUTE_OPERATIONS: dict[str, str] = {"aws.ec2.modify_instance_type": "InstanceType"}

_INSTANCE_STATE = AwsScope("Instances", (_INSTANCES,))
AWS_ACTION_SCOPES: dict[str, AwsScope] = {
    "ec2:StopInstances": _INSTANCE_STATE,
    "ec2:StartInstances": _INSTANCE_STATE,
    "ec2:RebootInstances": _INSTANCE_STATE,
    # only requests that set the instance type: userData, groups, kernel ... stay denied
    "ec2:ModifyInstanceAttribute": AwsScope(
        "InstanceAttributes",
        (_INSTANCES,),
        {
            "Null": {
                f"ec2:Attribute/{a}": "false"
                for a in sorted(set(MODIFY_INSTANCE_ATTRIBUTE_OPERATIONS.values()))
            }
        },
    ),
    # actions with the same resources share a statement (the role's inline policies have 10,240 characters)
    "ec2:CreateSnapshot": AwsScope("Volumes", (_VOLUMES, _SNAPSHOTS)),
    "ec2:DeleteSnapshot": AwsScope("Snapshots", (_SNAPSHOTS,)),
    "ec2:RevokeSecurityGroupIngress": AwsScope(
        "SecurityGroups", ("arn:{partition}:ec2:*:{account}:security-group/*",)
    ),
    # tags, by the per-service permission aws.tagging.tag_resource declares next to tag:TagResources: one
    # statement, each action on the ARNs of its own resource type (an action never matches another service's
    # ARN, so the union grants each exactly its own type; one statement keeps the role's policy small)
    **dict.fromkeys(
        (
            "ec2:CreateTags",
            "dynamodb:TagResource",
            "sns:TagResource",
            "logs:TagResource",
            "elasticfilesystem:TagResource",
            "sqs:TagQueue",
            "cloudtrail:AddTags",
        ),
        AwsScope(
            "Tags",
            (
                "arn:{partition}:ec2:*:{account}:*/*",
                _SNAPSHOTS,
                "arn:{partition}:dynamodb:*:{account}:table/*",
                "arn:{partition}:sns:*:{account}:*",
                "arn:{partition}:logs:*:{account}:log-group:*",
                "arn:{partition}:elasticfilesystem:*:{account}:file-system/*",
                "arn:{partition}:sqs:*:{account}:*",
                "arn:{partition}:cloudtrail:*:{account}:trail/*",
            ),
        ),
    ),
    "rds:StopDBInstance": AwsScope("Databases", ("arn:{partition}:rds:*:{account}:db:*",)),
    "rds:StartDBInstance": AwsScope("Databases", ("arn:{partition}:rds:*:{account}:db:*",)),
    # a restore makes a DB instance from a snapshot (the operation names no subnet, option or parameter group,
    # so IAM checks only these two), and RDS checks AddTagsToResource on the new instance for the request's tags
    **dict.fromkeys(
        ("rds:CreateDBSnapshot", "rds:RestoreDBInstanceFromDBSnapshot", "rds:AddTagsToResource"),
        AwsScope("DatabaseSnapshots", (_DB, _DB_SNAPSHOTS)),
    ),
    "rds:RebootDBInstance": AwsScope("Databases", (_DB,)),
    "rds:ModifyDBInstance": AwsScope("Databases", (_DB,)),
    # encrypting a volume: snapshot -> encrypted copy -> new volume -> swap at the instance's device
    "ec2:CopySnapshot": AwsScope("Snapshots", (_SNAPSHOTS,)),
    "ec2:CreateVolume": AwsScope("Volumes", (_VOLUMES, _SNAPSHOTS)),
    "ec2:AttachVolume": AwsScope("VolumeAttachments", (_VOLUMES, _INSTANCES)),
    "ec2:DetachVolume": AwsScope("VolumeAttachments", (_VOLUMES, _INSTANCES)),
    # what EBS does with a customer-managed key on the worker's behalf: keys of this account only
    **dict.fromkeys(
        (
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:TagResource",
        ),
        AwsScope("Keys", (_KEYS,)),
    ),
    # the catalogue's Lambda operations: functions (and their aliases) of this account, never anything else
    **dict.fromkeys(
        (
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunctionConcurrency",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:UpdateAlias",
            "lambda:UpdateFunctionConfiguration",
        ),
        AwsScope("Functions", (_FUNCTIONS,)),
    ),
}
_ACCOUNT_LEVEL_S3 = {"s3:ListAllMyBuckets"}  # no resource type: "*" only
# tag:TagResources (the Resource Groups Tagging API) has no resource type in IAM: it stays on "*", and grants
# nothing alone: IAM also checks the service's own tag permission on each resource, which is scoped above.

# The Extension tags each of its AWS resources escher=extend (infra/parts/aws.py tags_of): the worker may tag
# anything of the user's but none of those, whatever the Allow says.
OWN_RESOURCE_TAG = ("escher", "extend")
# the services the Extension makes taggable resources in, besides its buckets and function (denied apart):
# its queues, log group and notification topic
OWN_RESOURCE_SERVICES: tuple[str, ...] = ("logs:", "sns:", "sqs:")

# What the worker may never do to its own buckets (explicit Deny wins over any Allow, the catalogue's included).
OWN_BUCKET_CONFIG_DENY: tuple[str, ...] = (
    "s3:DeleteBucket",
    "s3:DeleteBucketOwnershipControls",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketCORS",
    "s3:PutBucketLogging",
    "s3:PutBucketNotification",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutBucketWebsite",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
)
OWN_OBJECT_DENY: tuple[str, ...] = (
    "s3:BypassGovernanceRetention",
    "s3:DeleteObjectVersion",
    "s3:PutObjectAcl",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectVersionAcl",
)
OWN_AUDIT_OBJECT_DENY: tuple[str, ...] = ("s3:DeleteObject",)  # the state store is rewritten, the audit never
_READ_VERBS = ("Get", "List", "Describe", "Head")


def _mutates(action: str) -> bool:
    return not action.split(":", 1)[1].startswith(_READ_VERBS)


def _tags(action: str) -> bool:
    """A catalogue action that adds tags (``TagResource``, ``TagQueue``, ``AddTags...``, ``CreateTags``,
    ``PutBucketTagging``, ``TagResources``)."""
    verb = action.split(":", 1)[1]
    return verb.startswith(("Tag", "AddTags", "CreateTags")) or verb == "PutBucketTagging"


def _fill(template: str, partition: str, account: str) -> str:
    return template.format(partition=partition, account=account)


def aws_catalogue_statements(actions: Sequence[str], *, partition: str, account: str) -> list[dict[str, Any]]:
    """Allow statements for the catalogue's actions, each scoped as narrowly as IAM allows, and a Deny of its
    tag actions on the Extension's own resources (tagged :data:`OWN_RESOURCE_TAG`).

    Actions without a resource type of their own (``Describe*``, ``ce:GetCostAndUsage``, account-level
    settings, ``tag:TagResources``) stay on ``"*"``; S3 actions apply to bucket ARNs only.
    """
    groups: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
    conditions: dict[tuple[str, tuple[str, ...], str], Mapping[str, Any]] = {}
    for action in sorted(set(actions)):
        scope = AWS_ACTION_SCOPES.get(action)
        if scope is None and action.startswith("s3:") and action not in _ACCOUNT_LEVEL_S3:
            scope = AwsScope("Buckets", (_BUCKETS,))
        if scope is None:
            scope = AwsScope("", ("*",))
        resources = tuple(_fill(r, partition, account) for r in scope.resources)
        key = (scope.name, resources, repr(sorted(scope.condition.items())))
        groups.setdefault(key, []).append(action)
        conditions[key] = scope.condition
    if len({k[0] for k in groups}) != len(groups):  # IAM would refuse the policy at deploy time
        from escher.infra.program import InfraError

        raise InfraError(
            "two AWS scopes share a name: each statement needs its own Sid",
            hint="give each distinct scope in escher.infra.scoping.AWS_ACTION_SCOPES its own name",
        )
    statements: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda k: (k[0] != "", k[0], k[2])):
        name, resources, _ = key
        statement: dict[str, Any] = {
            "Sid": f"CatalogueOperations{name}",
            "Effect": "Allow",
            "Action": groups[key],
            "Resource": list(resources),
        }
        if conditions[key]:
            statement["Condition"] = {op: dict(v) for op, v in conditions[key].items()}
        statements.append(statement)
    if tagging := sorted(a for a in set(actions) if a.startswith(OWN_RESOURCE_SERVICES) and _tags(a)):
        tag, value = OWN_RESOURCE_TAG
        statements.append({
            "Sid": "DenyOwnTags",
            "Effect": "Deny",
            "Action": tagging,
            "Resource": ["*"],
            "Condition": {"StringEquals": {f"aws:ResourceTag/{tag}": value}},
        })  # fmt: skip
    return statements


def aws_own_storage_denies(
    catalogue_actions: Iterable[str], *, state_bucket: str, audit_bucket: str
) -> list[dict[str, Any]]:
    """Explicit denies on Escher's own buckets: their configuration, and the audit objects' protection.

    Besides the fixed lists, every mutating S3 action the catalogue grants is denied on them too, so a
    future catalogue operation cannot reach them either. The worker keeps exactly ``s3:GetObject`` +
    ``s3:PutObject`` on both (and ``s3:ListBucket`` on the state bucket), which are never denied.
    """
    granted = {a for a in catalogue_actions if a.startswith("s3:") and _mutates(a)}
    keep = {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    denied = sorted((set(OWN_BUCKET_CONFIG_DENY) | set(OWN_OBJECT_DENY) | granted) - keep)
    return [
        {
            "Sid": "DenyOwnStorageChanges",
            "Effect": "Deny",
            "Action": denied,
            "Resource": [state_bucket, f"{state_bucket}/*", audit_bucket, f"{audit_bucket}/*"],
        },
        {
            "Sid": "DenyAuditDelete",
            "Effect": "Deny",
            "Action": list(OWN_AUDIT_OBJECT_DENY),
            "Resource": [f"{audit_bucket}/*"],
        },
    ]


# -- Azure ---------------------------------------------------------------------------------------------------
# The providers an Escher install is made of: mutating actions there could reach its own accounts and vault.
AZURE_OWN_PROVIDERS: tuple[str, ...] = (
    "Microsoft.Authorization/",
    "Microsoft.EventGrid/",
    "Microsoft.KeyVault/",
    # the Tags API writes tags on any resource under its scope: at the subscription that is Escher's own too
    "Microsoft.Resources/tags/",
    "Microsoft.Storage/",
    "Microsoft.Web/",
)


# POST actions that only read (the daily cost snapshot's query): granted with the reads, at the subscription
AZURE_READ_ACTIONS: frozenset[str] = frozenset({"Microsoft.CostManagement/query/action"})


def azure_split_actions(actions: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    """(reads, mutating actions elsewhere, mutating actions on the providers Escher itself is made of)."""
    reads: list[str] = []
    elsewhere: list[str] = []
    own: list[str] = []
    for action in sorted(set(actions)):
        if action.lower().endswith("/read") or action in AZURE_READ_ACTIONS:
            reads.append(action)
        elif action.startswith(AZURE_OWN_PROVIDERS):
            own.append(action)
        else:
            elsewhere.append(action)
    return reads, elsewhere, own


# -- GCP -----------------------------------------------------------------------------------------------------
GCP_OWN_SERVICES: tuple[str, ...] = ("storage.",)
_GCP_READ_VERBS = ("get", "list", "getIamPolicy", "testIamPermissions")


def gcp_split_permissions(permissions: Iterable[str]) -> tuple[list[str], list[str]]:
    """(granted project-wide, granted only outside Escher's own buckets: the mutating storage ones)."""
    anywhere: list[str] = []
    not_own: list[str] = []
    for permission in sorted(set(permissions)):
        verb = permission.rsplit(".", 1)[-1]
        if permission.startswith(GCP_OWN_SERVICES) and verb not in _GCP_READ_VERBS:
            not_own.append(permission)
        else:
            anywhere.append(permission)
    return anywhere, not_own


def gcp_own_bucket_condition(buckets: Sequence[str]) -> str:
    """A CEL expression true for every resource except the given buckets and their objects."""
    names = [f"projects/_/buckets/{b}" for b in buckets]
    parts = [f'resource.name == "{n}" || resource.name.startsWith("{n}/")' for n in names]
    return "!(" + " || ".join(parts) + ")"
