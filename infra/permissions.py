"""Least privilege for the workers: the permissions of the enabled catalogue operations, plus state access.

Each operation in the catalogue (``escher.ops``) carries the exact permissions it needs; the worker's IAM
role / custom role is generated from the ones the user enabled and nothing else. No action is ever ``*``
(or ends in ``*``): :func:`check_no_wildcards` refuses it before anything is deployed.

Operations come from the catalogue ``escher.ops`` (``permissions_for``). The daily scan is the pseudo-operation
``<cloud>.scan.daily_inventory``: its reads come from what the collector tasks and the cost source declare
(``escher.scans.collect.permissions``), so a collector that starts calling something new changes the policy
with it (a test records the calls on moto and fails otherwise). :data:`FALLBACK_OPERATIONS` holds stand-ins
used only when the catalogue is absent.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from escher.infra.program import InfraError

__all__ = [
    "AWS_LAPTOP_OWNED_DENY",
    "AWS_OWN_FUNCTION_DENY",
    "FALLBACK_OPERATIONS",
    "LAPTOP_OWNED_PREFIXES",
    "AwsStateArns",
    "Catalogue",
    "aws_own_function_policy",
    "aws_policy_document",
    "azure_audit_data_actions",
    "azure_state_data_actions",
    "azure_state_write_condition",
    "check_no_wildcards",
    "default_operations",
    "gcp_state_write_condition",
    "installed_catalogue",
    "operation_permissions",
    "scan_operation",
]

# stand-ins for a tree without the operations catalogue (escher.ops); the catalogue wins when present
FALLBACK_OPERATIONS: dict[str, tuple[str, ...]] = {
    # AWS
    "aws.s3.block_public_access": ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    "aws.ec2.stop_instances": ("ec2:DescribeInstances", "ec2:StopInstances"),
    "aws.ec2.revoke_open_ingress": ("ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupIngress"),
    # Azure
    "azure.compute.deallocate_vm": (
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Compute/virtualMachines/deallocate/action",
    ),
    "azure.storage.block_public_access": (
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Storage/storageAccounts/write",
    ),
    # GCP
    "gcp.compute.stop_instance": ("compute.instances.get", "compute.instances.stop"),
    "gcp.storage.remove_public_access": ("storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy"),
}
_FALLBACK_DEFAULTS = {
    "aws": ("aws.scan.daily_inventory", "aws.s3.block_public_access"),
    "azure": ("azure.scan.daily_inventory", "azure.storage.block_public_access"),
    "gcp": ("gcp.scan.daily_inventory", "gcp.storage.remove_public_access"),
}


class Catalogue(Protocol):
    """The slice of ``escher.ops`` used here (a fake in tests)."""

    def known(self, operation_id: str) -> bool: ...

    def cloud_operations(self, cloud: str) -> list[str]: ...

    def permissions_for(self, operation_ids: Iterable[str]) -> Mapping[str, Sequence[str]]: ...


class _OpsCatalogue:
    def __init__(self, module: Any) -> None:
        self._ops = module

    def known(self, operation_id: str) -> bool:
        return self._ops.OPERATIONS.find(operation_id) is not None

    def cloud_operations(self, cloud: str) -> list[str]:
        return list(self._ops.OPERATIONS.keys(f"{cloud}."))

    def permissions_for(self, operation_ids: Iterable[str]) -> Mapping[str, Sequence[str]]:
        result: Mapping[str, Sequence[str]] = self._ops.permissions_for(list(operation_ids))
        return result


def installed_catalogue() -> Catalogue | None:
    """``escher.ops`` when it is in this tree (with ``permissions_for``), else None: the fallback table."""
    try:
        module = importlib.import_module("escher.ops")
    except ModuleNotFoundError as exc:
        if exc.name in ("escher.ops", "escher"):
            return None
        raise
    if not (hasattr(module, "permissions_for") and hasattr(module, "OPERATIONS")):
        return None
    return _OpsCatalogue(module)


_UNSET: Any = object()


def default_operations(cloud: str, catalogue: Catalogue | None = _UNSET) -> tuple[str, ...]:
    """The daily scan plus every catalogue operation of ``cloud`` (the fallback defaults without one)."""
    catalogue = installed_catalogue() if catalogue is _UNSET else catalogue
    scan = f"{cloud}.scan.daily_inventory"
    if catalogue is None or not catalogue.cloud_operations(cloud):
        return _FALLBACK_DEFAULTS[cloud]
    return tuple(sorted({scan, *catalogue.cloud_operations(cloud)}))


def operation_permissions(
    cloud: str, operation_ids: Iterable[str], catalogue: Catalogue | None = _UNSET
) -> tuple[str, ...]:
    """The sorted, de-duplicated permissions the given operations need on ``cloud``.

    Catalogue operations take their permissions from ``escher.ops``; the daily scan
    (``<cloud>.scan.daily_inventory``) from its collector tasks and cost source; stand-ins from
    :data:`FALLBACK_OPERATIONS` when there is no catalogue.
    """
    catalogue = installed_catalogue() if catalogue is _UNSET else catalogue
    table = {**FALLBACK_OPERATIONS, **scan_operation(cloud)}
    ids = sorted(set(operation_ids))
    foreign = [i for i in ids if not i.startswith(f"{cloud}.")]
    if foreign:
        raise InfraError(
            f"operations {', '.join(foreign)} do not run on {cloud}",
            hint=f"list only '{cloud}.*' operations for the {cloud} extension",
        )
    from_catalogue = [i for i in ids if catalogue is not None and catalogue.known(i)]
    from_table = [i for i in ids if i not in from_catalogue and i in table]
    unknown = [i for i in ids if i not in from_catalogue and i not in from_table]
    if unknown:
        known = sorted({*table, *(catalogue.cloud_operations(cloud) if catalogue else [])})
        raise InfraError(
            f"unknown operations: {', '.join(unknown)}",
            hint=f"known for {cloud}: {', '.join(k for k in known if k.startswith(cloud + '.'))}",
        )
    perms: set[str] = {p for i in from_table for p in table[i]}
    if from_catalogue and catalogue is not None:
        perms.update(catalogue.permissions_for(from_catalogue).get(cloud, ()))
    result = tuple(sorted(perms))
    check_no_wildcards(result)
    return result


def scan_operation(cloud: str) -> dict[str, tuple[str, ...]]:
    """``{"<cloud>.scan.daily_inventory": permissions}``: the reads every collector task and the cost source of
    ``cloud`` declare (the daily scan runs them all)."""
    from escher.scans.collect.permissions import scan_permissions

    return {f"{cloud}.scan.daily_inventory": scan_permissions(cloud)}


def check_no_wildcards(actions: Iterable[str]) -> None:
    """Refuse any action with a wildcard (IAM matches both ``*`` and ``?``): each must be named exactly."""
    bad = sorted(a for a in actions if "*" in a or "?" in a)
    if bad:
        raise InfraError(
            f"refusing wildcard permissions: {', '.join(bad)}",
            hint="each catalogue operation must name its exact permissions",
        )


# -- AWS: the worker role's policy -------------------------------------------------------------------------
@dataclass(frozen=True)
class AwsStateArns:
    state_bucket: str
    audit_bucket: str
    parameters_prefix: str  # arn:aws:ssm:<region>:<account>:parameter/<prefix>
    log_group: str
    dead_letter_queue: str
    topic: str | None = None
    account: str = "*"  # the deploying account: catalogue actions are scoped to its resources

    @property
    def partition(self) -> str:
        return self.state_bucket.split(":")[1] if self.state_bucket.startswith("arn:") else "aws"


# What only the laptop writes in the state storage, the worker only reads: the published settings (which name
# the approver keys a grant must be signed with, see escher.extend.settings_doc) and the signed grants
# (escher.extend.approvals_remote). Were the worker's identity able to write them, whoever holds it could publish
# their own approver key and sign their own grants. The worker writes requests' status (``approvals/<id>.json``),
# markers, reports, alerts, the events log: never these.
LAPTOP_OWNED_PREFIXES: tuple[str, ...] = ("settings/", "approvals/grants/")
# every S3 action that changes an object's content or removes it (CopyObject and multipart uploads are
# authorized as s3:PutObject); denied explicitly, so no allow added later (the catalogue's) can reach them
AWS_LAPTOP_OWNED_DENY: tuple[str, ...] = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject")


def aws_state_statements(arns: AwsStateArns) -> list[dict[str, Any]]:
    """What the worker needs on its own resources, scoped to their ARNs: read and write the state bucket except
    what only the laptop writes (:data:`LAPTOP_OWNED_PREFIXES`, read-only to the worker by an explicit deny)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "StateReadWrite",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [f"{arns.state_bucket}/*"],
        },
        {"Sid": "StateList", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [arns.state_bucket]},
        # append-only audit: write and read, never delete (Object Lock keeps versions anyway)
        {
            "Sid": "AuditAppend",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [f"{arns.audit_bucket}/*"],
        },
        {
            "Sid": "Credentials",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParametersByPath"],
            "Resource": [arns.parameters_prefix, f"{arns.parameters_prefix}/*"],
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{arns.log_group}:*"],
        },
        {
            "Sid": "DeadLetter",
            "Effect": "Allow",
            # ESCHER_DEAD_LETTER_URL names the queue (sqs://<name>): the worker looks its URL up once
            "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"],
            "Resource": [arns.dead_letter_queue],
        },
    ]
    if arns.topic:
        statements.append(
            {"Sid": "Notify", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [arns.topic]}
        )
    statements.append(
        {
            "Sid": "DenyLaptopOwnedState",
            "Effect": "Deny",
            "Action": list(AWS_LAPTOP_OWNED_DENY),
            "Resource": [f"{arns.state_bucket}/{prefix}*" for prefix in LAPTOP_OWNED_PREFIXES],
        }
    )
    return statements


def aws_policy_document(operation_permissions: Sequence[str], arns: AwsStateArns) -> dict[str, Any]:
    """The worker role's inline policy: the operations' actions, each scoped as IAM allows
    (:mod:`escher.infra.scoping`), scoped state access, and explicit denies that keep the worker off its own
    state and audit buckets' configuration and the audit objects' protection."""
    check_no_wildcards(operation_permissions)
    from escher.infra.scoping import aws_catalogue_statements, aws_own_storage_denies

    statements = [
        *aws_catalogue_statements(operation_permissions, partition=arns.partition, account=arns.account),
        *aws_state_statements(arns),
        *aws_own_storage_denies(
            operation_permissions, state_bucket=arns.state_bucket, audit_bucket=arns.audit_bucket
        ),
    ]
    for statement in statements:
        check_no_wildcards(statement["Action"])
    return {"Version": "2012-10-17", "Statement": statements}


# Changes to a Lambda function: on the worker's own function, any of them could point it at other state (its
# environment names the state bucket) or stop it; denied there whatever the catalogue grants elsewhere.
AWS_OWN_FUNCTION_DENY: tuple[str, ...] = (
    "lambda:AddPermission",
    "lambda:CreateAlias",
    "lambda:DeleteAlias",
    "lambda:DeleteFunction",
    "lambda:DeleteFunctionConcurrency",
    "lambda:DeleteFunctionEventInvokeConfig",
    "lambda:DeleteFunctionUrlConfig",
    "lambda:DeleteProvisionedConcurrencyConfig",
    "lambda:PublishVersion",
    "lambda:PutFunctionConcurrency",
    "lambda:PutFunctionEventInvokeConfig",
    "lambda:PutProvisionedConcurrencyConfig",
    "lambda:RemovePermission",
    "lambda:TagResource",
    "lambda:UntagResource",
    "lambda:UpdateAlias",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:UpdateFunctionEventInvokeConfig",
    "lambda:UpdateFunctionUrlConfig",
)


def aws_own_function_policy(function_arn: str, operation_permissions: Sequence[str]) -> dict[str, Any]:
    """A second policy on the worker role (it needs the function's ARN, which exists only after the role): an
    explicit deny of every change to the worker's own function and its versions/aliases — the fixed list plus
    any non-read ``lambda:`` action the catalogue grants. Without it a catalogue Lambda operation granted on
    ``*`` could rewrite the worker's environment (its state bucket) and so sidestep the read-only settings."""
    granted = {
        a
        for a in operation_permissions
        if a.startswith("lambda:") and not a.startswith(("lambda:Get", "lambda:List"))
    }
    actions = sorted(set(AWS_OWN_FUNCTION_DENY) | granted)
    check_no_wildcards(actions)
    statement = {
        "Sid": "DenyOwnFunctionChanges",
        "Effect": "Deny",
        "Action": actions,
        "Resource": [function_arn, f"{function_arn}:*"],
    }
    return {"Version": "2012-10-17", "Statement": [statement]}


def policy_actions(document: Mapping[str, Any]) -> set[str]:
    """Every action a policy document allows (for tests and ``--plan``); denies are not counted."""
    return {a for s in document["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}


# -- Azure: data actions on the storage account and the key vault (a second role, scoped to them) ----------
def azure_state_data_actions() -> tuple[str, ...]:
    return (
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
    )


def azure_audit_data_actions() -> tuple[str, ...]:
    """The audit container: Put Blob of a new blob (``add/action``; create-if-absent) and read, no ``write``
    (overwrite) nor ``delete``; the immutability policy refuses both anyway."""
    return (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    )


def azure_state_actions() -> tuple[str, ...]:
    return ("Microsoft.Storage/storageAccounts/blobServices/containers/read",)


_AZURE_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
# the blob data actions that create, overwrite or remove a blob (delete is not granted; named so a later grant of
# it is conditioned too)
AZURE_BLOB_CHANGES: tuple[str, ...] = (
    f"{_AZURE_BLOB}/add/action",
    f"{_AZURE_BLOB}/delete",
    f"{_AZURE_BLOB}/write",
)


def azure_state_write_condition() -> str:
    """The ABAC condition (version 2.0) on the worker's state role assignment: reads anywhere; creating,
    overwriting or deleting a blob only outside :data:`LAPTOP_OWNED_PREFIXES` (blob path, any container of the
    state account). Azure RBAC has no deny a customer can write; a role assignment condition on the blob path is
    how Azure scopes data actions to a prefix."""
    not_changes = " AND ".join(f"!(ActionMatches{{'{a}'}})" for a in AZURE_BLOB_CHANGES)
    outside = " AND ".join(
        f"@Resource[{_AZURE_BLOB}:path] StringNotStartsWith '{prefix}'" for prefix in LAPTOP_OWNED_PREFIXES
    )
    return f"(({not_changes}) OR ({outside}))"


# -- GCP: state access is granted with bucket/secret-level bindings of predefined roles ---------------------
GCP_STATE_BINDINGS: dict[str, str] = {
    "state": "roles/storage.objectUser",  # write objects of the state bucket, outside what the laptop owns
    "state-read": "roles/storage.objectViewer",  # read and list every object of the state bucket
    "audit": "roles/storage.objectCreator",  # append-only: create objects, no delete
    "secrets": "roles/secretmanager.secretAccessor",
}


def gcp_state_write_condition(bucket: str) -> str:
    """The IAM condition (CEL) on the worker's ``roles/storage.objectUser`` binding on the state bucket: true for
    the bucket and every object except those under :data:`LAPTOP_OWNED_PREFIXES`, which the worker only reads
    (through the unconditional ``roles/storage.objectViewer`` binding). IAM conditions apply to the whole
    binding, hence two bindings."""
    objects = f"projects/_/buckets/{bucket}/objects/"
    return (
        "!(" + " || ".join(f'resource.name.startsWith("{objects}{p}")' for p in LAPTOP_OWNED_PREFIXES) + ")"
    )


# The organization scan (escher.pipeline.fanout): the 02:00 job lists the organization's accounts and queues one
# message per account; the worker consumes the queue (Lambda's event source mapping polls with the function's
# role) and enters each account through the organization role, in accounts of its own organization only.
AWS_ORG_LIST_ACTIONS: tuple[str, ...] = (
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListTagsForResource",
)
AWS_SCAN_QUEUE_ACTIONS: tuple[str, ...] = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
)


def aws_scan_queue_policy(queue_arn: str, organization_role: str, partition: str = "aws") -> dict[str, Any]:
    """The worker's rights for the organization scan: its scan queue, listing the organization, and
    sts:AssumeRole on ``organization_role`` in any account of the caller's own organization (the account is
    not known when the stack is made; aws:ResourceOrgID keeps it inside the organization)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ScanQueue",
                "Effect": "Allow",
                "Action": list(AWS_SCAN_QUEUE_ACTIONS),
                "Resource": [queue_arn],
            },
            {
                "Sid": "ListOrganization",
                "Effect": "Allow",
                "Action": list(AWS_ORG_LIST_ACTIONS),
                "Resource": ["*"],
            },
            {
                "Sid": "EnterMemberAccounts",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": [f"arn:{partition}:iam::*:role/{organization_role}"],
                "Condition": {"StringEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}},
            },
        ],
    }


def azure_read_data_actions(reads: Iterable[str]) -> list[str]:
    """The data-plane reads (RBAC ``dataActions``) of each collector whose control-plane reads the read role
    carries: the Key Vault collector lists a vault's keys, secrets and certificates only with these (CIS Azure
    8.3.x), and a role's ``actions`` cannot grant them."""
    from escher.scans.collect.permissions import COLLECTOR_DATA_ACTIONS, COLLECTOR_PERMISSIONS

    granted = {r.lower() for r in reads}
    wanted: set[str] = set()
    for collector, data_actions in COLLECTOR_DATA_ACTIONS.items():
        needs = COLLECTOR_PERMISSIONS.get(collector, ())
        if needs and all(a.lower() in granted for a in needs):
            wanted.update(data_actions)
    return sorted(wanted)
