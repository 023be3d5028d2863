"""The worker cannot alter its own audit trail or state storage, on any cloud: read from the generated policies.

Each test runs the very program ``escher extend CLOUD --plan`` runs (``run_plan``: Pulumi mocks with plausible
ARNs and names) with every catalogue operation of the cloud enabled, the default, and asks the generated
policies what the worker's identity may do to its own buckets / accounts.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from escher.infra.permissions import default_operations, operation_permissions
from escher.infra.plan import Plan, run_plan
from escher.infra.program import InfraError
from escher.infra.spec import ExtensionSpec
from tests.functional.infra.conftest import make_spec
from tests.functional.infra.iam_eval import decide

pytest.importorskip("pulumi")
pytest.importorskip("escher.ops")


def full_spec(cloud: str, bundle: str, **changes: Any) -> ExtensionSpec:
    """The default install: every catalogue operation of ``cloud`` (so storage changes are in the catalogue)."""
    ops = default_operations(cloud)
    return replace(
        make_spec(cloud, bundle, **changes), operations=ops, permissions=operation_permissions(cloud, ops)
    )


def settings_of(plan: Plan, type_token: str, name: str | None = None) -> list[dict[str, Any]]:
    return [r.settings for r in plan.resources if r.type == type_token and (name is None or r.name == name)]


# -- AWS -----------------------------------------------------------------------------------------------------
# What would let the worker rewrite or erase its trail, on the bucket and on its objects.
AWS_BUCKET_CHANGES = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutReplicationConfiguration",
    "s3:DeleteBucket",
)
AWS_OBJECT_CHANGES = (
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:DeleteObjectVersion",
    "s3:PutObjectAcl",
)


@pytest.fixture(scope="module")
def aws_policy(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, str]:
    bundle = tmp_path_factory.mktemp("aws") / "worker.zip"
    bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    plan = run_plan(full_spec("aws", str(bundle)))
    (inputs,) = settings_of(plan, "aws:iam/rolePolicy:RolePolicy", "worker-policy")
    policy = json.loads(inputs["policy"])
    state = f"arn:aws:s3:::{plan.outputs['state_bucket']}"
    audit = f"arn:aws:s3:::{plan.outputs['audit_bucket']}"
    return policy, state, audit


def test_aws_catalogue_really_grants_bucket_changes_elsewhere(
    aws_policy: tuple[dict[str, Any], str, str],
) -> None:
    # the premise of the denies: the catalogue's S3 fixes are allowed on the user's buckets
    policy, _, _ = aws_policy
    for action in (
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketVersioning",
        "s3:PutEncryptionConfiguration",
    ):
        assert decide(policy, action, "arn:aws:s3:::customer-data") == "allow", action


@pytest.mark.parametrize("action", AWS_BUCKET_CHANGES)
def test_aws_worker_cannot_change_its_own_buckets(
    aws_policy: tuple[dict[str, Any], str, str], action: str
) -> None:
    policy, state, audit = aws_policy
    for bucket in (state, audit):
        assert decide(policy, action, bucket) == "explicit-deny", (action, bucket)


@pytest.mark.parametrize("action", AWS_OBJECT_CHANGES)
def test_aws_worker_cannot_lift_the_protection_of_its_own_objects(
    aws_policy: tuple[dict[str, Any], str, str], action: str
) -> None:
    policy, state, audit = aws_policy
    for bucket in (state, audit):
        assert decide(policy, action, f"{bucket}/audit/2026/record.json") == "explicit-deny", (action, bucket)


def test_aws_worker_appends_to_its_audit_trail_and_never_deletes_it(
    aws_policy: tuple[dict[str, Any], str, str],
) -> None:
    policy, state, audit = aws_policy
    record = f"{audit}/audit/2026/record.json"
    assert decide(policy, "s3:PutObject", record) == "allow"
    assert decide(policy, "s3:GetObject", record) == "allow"
    assert decide(policy, "s3:DeleteObject", record) == "explicit-deny"
    # and keeps exactly the state access it needs
    assert decide(policy, "s3:PutObject", f"{state}/markers/x") == "allow"
    assert decide(policy, "s3:GetObject", f"{state}/markers/x") == "allow"
    assert decide(policy, "s3:ListBucket", state) == "allow"


def test_aws_modify_instance_attribute_sets_the_instance_type_only(
    aws_policy: tuple[dict[str, Any], str, str],
) -> None:
    policy, _, _ = aws_policy
    instance = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"
    action = "ec2:ModifyInstanceAttribute"
    assert decide(policy, action, instance, {"ec2:Attribute/InstanceType": "m5.large"}) == "allow"
    for attribute in ("UserData", "GroupId", "Kernel", "InstanceInitiatedShutdownBehavior"):
        assert decide(policy, action, instance, {f"ec2:Attribute/{attribute}": "x"}) == "implicit-deny"


def test_aws_destructive_actions_apply_to_their_resource_type_only(
    aws_policy: tuple[dict[str, Any], str, str],
) -> None:
    policy, _, _ = aws_policy
    account = "123456789012"
    instance = f"arn:aws:ec2:eu-west-1:{account}:instance/i-0abc"
    snapshot = "arn:aws:ec2:eu-west-1::snapshot/snap-0abc"
    other_account = "arn:aws:ec2:eu-west-1:999999999999:instance/i-0abc"
    assert decide(policy, "ec2:StopInstances", instance) == "allow"
    assert decide(policy, "ec2:StopInstances", other_account) == "implicit-deny"
    assert decide(policy, "ec2:StopInstances", snapshot) == "implicit-deny"
    assert decide(policy, "ec2:DeleteSnapshot", snapshot) == "allow"
    assert decide(policy, "ec2:DeleteSnapshot", instance) == "implicit-deny"
    assert decide(policy, "ec2:RevokeSecurityGroupIngress", instance) == "implicit-deny"
    assert decide(policy, "rds:StopDBInstance", f"arn:aws:rds:eu-west-1:{account}:db:orders") == "allow"
    assert decide(policy, "rds:StopDBInstance", instance) == "implicit-deny"
    # only what has no resource type of its own stays on "*"
    on_anything = {
        a for s in policy["Statement"] if s["Effect"] == "Allow" and "*" in s["Resource"] for a in s["Action"]
    }
    mutating = {a for a in on_anything if not re.match(r"^[\w-]+:(Describe|Get|List)", a)}
    # GenerateCredentialReport (the scan's IAM read) creates only the account's credential report;
    # tag:TagResources has no resource type in IAM and grants nothing without the service's own (scoped) one
    assert mutating == {
        "ec2:EnableEbsEncryptionByDefault",
        "iam:GenerateCredentialReport",
        "tag:TagResources",
    }


# each tag / restore action on a resource of its type in this account, and not on another type of its service
# (an action never applies to another service's ARNs, so that is the type check that can fail)
A = "arn:aws:{}:eu-west-1:123456789012:{}"
AWS_SCOPED: list[tuple[str, str, str | None]] = [
    ("rds:RestoreDBInstanceFromDBSnapshot", A.format("rds", "db:orders-restored"), A.format("rds", "cluster:c")),
    ("rds:RestoreDBInstanceFromDBSnapshot", A.format("rds", "snapshot:orders-nightly"), None),
    ("rds:AddTagsToResource", A.format("rds", "db:orders"), A.format("rds", "cluster:c")),
    ("rds:AddTagsToResource", A.format("rds", "snapshot:orders-nightly"), A.format("rds", "og:default")),
    ("dynamodb:TagResource", A.format("dynamodb", "table/orders"), "arn:aws:dynamodb::123456789012:global-table/g"),
    ("sns:TagResource", A.format("sns", "alerts"), None),  # SNS tags topics only
    ("kms:TagResource", A.format("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"), A.format("kms", "alias/x")),
    ("logs:TagResource", A.format("logs", "log-group:/app/orders"), A.format("logs", "destination:d")),
    ("elasticfilesystem:TagResource", A.format("elasticfilesystem", "file-system/fs-0abc"),
     A.format("elasticfilesystem", "access-point/fsap-0abc")),
    ("sqs:TagQueue", A.format("sqs", "orders"), None),  # SQS has queues only
    ("cloudtrail:AddTags", A.format("cloudtrail", "trail/main"), A.format("cloudtrail", "eventdatastore/e")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "resource", "other_type"), AWS_SCOPED, ids=[f"{a}-{r.split(':')[5]}" for a, r, _ in AWS_SCOPED]
)
def test_aws_tag_and_restore_actions_apply_to_their_resource_type_only(
    aws_policy: tuple[dict[str, Any], str, str], action: str, resource: str, other_type: str | None
) -> None:
    policy, _, _ = aws_policy
    assert decide(policy, action, resource) == "allow"
    assert decide(policy, action, resource.replace("123456789012", "999999999999")) == "implicit-deny"
    if other_type:
        assert decide(policy, action, other_type) == "implicit-deny"
    from escher.infra.scoping import OWN_RESOURCE_SERVICES

    if not action.startswith(OWN_RESOURCE_SERVICES):  # the Extension makes no table, key, trail, DB ...
        return
    # the Extension's own queues, log group and topic carry escher=extend: never tagged
    assert decide(policy, action, resource, {"aws:ResourceTag/escher": "extend"}) == "explicit-deny"
    assert decide(policy, action, resource, {"aws:ResourceTag/escher": "other"}) == "allow"


def test_aws_the_extension_tags_its_own_resources_with_the_key_the_deny_names(
    aws_policy: tuple[dict[str, Any], str, str],
) -> None:
    from escher.infra.parts.aws import tags_of
    from escher.infra.scoping import OWN_RESOURCE_TAG

    tag, value = OWN_RESOURCE_TAG
    assert tags_of(make_spec("aws", "bundle.zip")).get(tag) == value
    (deny,) = [s for s in aws_policy[0]["Statement"] if s["Sid"] == "DenyOwnTags"]
    # the services the Extension has taggable resources in (its buckets and function are denied apart)
    assert deny["Action"] == ["logs:TagResource", "sns:TagResource", "sqs:TagQueue"]


def test_aws_statement_ids_are_unique(aws_policy: tuple[dict[str, Any], str, str]) -> None:
    sids = [s["Sid"] for s in aws_policy[0]["Statement"]]
    assert len(sids) == len(set(sids))


# -- Azure ---------------------------------------------------------------------------------------------------
def _azure_grants(plan: Plan) -> list[tuple[str, list[str], list[str]]]:
    """(scope, actions, data actions) of every role assignment the plan makes to the worker."""
    roles = {
        f"{r.name}-id": r.settings for r in plan.resources if r.type.endswith("authorization:RoleDefinition")
    }
    grants = []
    for a in settings_of(plan, "azure-native:authorization:RoleAssignment"):
        if (
            a["principalId"] == "object-mock"
        ):  # the deploying identity (Key Vault Secrets Officer on the vault)
            assert a["scope"] == "credentials-id"
            continue
        role = roles.get(a["roleDefinitionId"])
        # a built-in role: Storage Blob Data Owner on the Functions host account only, Storage Queue Data
        # Contributor (the organization scan's queue) on the state account only
        if role is None:
            queues = a["roleDefinitionId"].endswith("/974c5e8b-45b9-4653-ba55-5f855dd0fb88")
            assert a["scope"] == ("state-id" if queues else "host-id")
            continue
        perms = role["permissions"][0]
        grants.append((a["scope"], perms.get("actions", []), perms.get("dataActions", [])))
    return grants


def _changes_storage(action: str) -> bool:
    return action.startswith(("Microsoft.Storage/", "Microsoft.Authorization/")) and not action.endswith(
        "/read"
    )


SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000"


def test_azure_nothing_granted_over_the_audit_account_changes_it(bundle: str) -> None:
    from escher.scans.collect.permissions import COLLECTOR_DATA_ACTIONS

    plan = run_plan(full_spec("azure", bundle))
    assert any(_changes_storage(a) for a in plan.permissions)  # the catalogue does ask for storage writes
    # scopes that contain the audit account: the subscription, Escher's resource group, the account itself
    covering = {SUBSCRIPTION, "group-id", "audit-id"}
    grants = _azure_grants(plan)
    assert {scope for scope, _, _ in grants} >= {SUBSCRIPTION, "audit-id"}
    for scope, actions, data_actions in grants:
        if scope in covering:
            assert [a for a in actions if _changes_storage(a)] == [], scope
            # the Key Vault data-plane reads of the scan (CIS 8.3.x) read vault metadata: none touches storage
            vault_reads = set(COLLECTOR_DATA_ACTIONS["azure.keyvault"])
            assert all(a.startswith("Microsoft.KeyVault/") and not _changes_storage(a) for a in vault_reads)
            assert (
                set(data_actions)
                <= {
                    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
                    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
                }
                | vault_reads
            ), scope
    # what is not granted without [extend] resource_groups: every change on a provider Escher itself is made of
    # (storage, authorization, and the Function App operations, which would cover the worker's own app)
    from escher.infra.scoping import AZURE_OWN_PROVIDERS

    own = sorted(a for a in plan.permissions if a.startswith(AZURE_OWN_PROVIDERS) and not _reads(a))
    assert any(a.startswith("Microsoft.Web/sites/") for a in own)
    assert sorted(plan.outputs["operations_not_granted"]) == own


def test_azure_tags_are_written_only_at_the_resource_groups_the_user_names(bundle: str) -> None:
    """Microsoft.Resources/tags/write at the subscription (or Escher's own group) would let the worker tag
    Escher's own accounts, vault and function app: it goes only where other writes on Escher's providers go."""
    tags = "Microsoft.Resources/tags/write"
    plan = run_plan(full_spec("azure", bundle))
    assert tags in plan.permissions  # azure.resources.tag_resource asks for it
    assert not any(tags in actions for _, actions, _ in _azure_grants(plan))
    assert tags in plan.outputs["operations_not_granted"]
    plan = run_plan(full_spec("azure", bundle, azure_resource_groups=("prod-rg",)))
    assert {scope for scope, actions, _ in _azure_grants(plan) if tags in actions} == {
        f"{SUBSCRIPTION}/resourceGroups/prod-rg"
    }


def _reads(action: str) -> bool:
    """A read: ``/read``, or a POST that only reads (the cost query), granted with them."""
    from escher.infra.scoping import AZURE_READ_ACTIONS

    return action.endswith("/read") or action in AZURE_READ_ACTIONS


def test_azure_named_resource_groups_get_the_changes_and_the_subscription_only_reads(bundle: str) -> None:
    plan = run_plan(full_spec("azure", bundle, azure_resource_groups=("prod-rg", "dev-rg")))
    grants = _azure_grants(plan)
    at_subscription = [(a, d) for scope, a, d in grants if scope == SUBSCRIPTION]
    reads_only = [x for actions, _ in at_subscription for x in actions if not _reads(x)]
    assert at_subscription and not reads_only
    groups = {scope: actions for scope, actions, _ in grants if "/resourceGroups/" in scope}
    assert set(groups) == {f"{SUBSCRIPTION}/resourceGroups/prod-rg", f"{SUBSCRIPTION}/resourceGroups/dev-rg"}
    for actions in groups.values():
        assert {a for a in plan.permissions if not _reads(a)} == set(actions)
    assert plan.outputs["operations_not_granted"] == []


# -- GCP -----------------------------------------------------------------------------------------------------
GCP_BUCKET_CHANGES = {
    "storage.buckets.update",  # retention, versioning, lifecycle, encryption, public access
    "storage.buckets.setIamPolicy",
    "storage.buckets.delete",
    "storage.objects.delete",
    "storage.objects.update",
    "storage.objects.setRetention",
}


def _cel_allows(expression: str, resource_name: str) -> bool:
    """Evaluate the small CEL subset the conditions use (==, startsWith, !, ||, &&) for one resource name."""
    python = (
        expression.replace("resource.name", "name")
        .replace(".startsWith(", ".startswith(")
        .replace("||", " or ")
        .replace("&&", " and ")
        .replace("!(", " not (")
    )
    assert set(re.sub(r'"[^"]*"', "", python)) <= set("name.startswith() ornotad=")  # nothing else to eval
    return bool(eval(python, {"__builtins__": {}}, {"name": resource_name}))


def test_gcp_worker_cannot_change_its_own_buckets(bundle: str) -> None:
    plan = run_plan(full_spec("gcp", bundle))
    assert {"storage.buckets.update", "storage.buckets.setIamPolicy"} <= set(plan.permissions)
    roles = {
        f"{r.name}-mock": r.settings["permissions"]
        for r in plan.resources
        if r.type.endswith("IAMCustomRole")
    }
    own = [plan.outputs["state_bucket"], plan.outputs["audit_bucket"], "sources-mock"]
    for member in settings_of(plan, "gcp:projects/iAMMember:IAMMember"):
        changes = set(roles.get(member["role"], ())) & GCP_BUCKET_CHANGES  # predefined: the builder's
        if not changes:
            continue
        expression = member["condition"]["expression"]  # granted only under a condition
        for bucket in own:
            for name in (f"projects/_/buckets/{bucket}", f"projects/_/buckets/{bucket}/objects/audit/r.json"):
                assert not _cel_allows(expression, name), (changes, name)
        assert _cel_allows(expression, "projects/_/buckets/customer-data")
        assert _cel_allows(expression, f"projects/_/buckets/{own[1]}-lookalike")
    # on the audit bucket itself: create objects, nothing else
    on_audit = settings_of(plan, "gcp:storage/bucketIAMMember:BucketIAMMember", "grant-audit")
    assert [b["role"] for b in on_audit] == ["roles/storage.objectCreator"]


def test_gcp_audit_retention_is_locked_by_default_and_governance_is_the_opt_in(bundle: str) -> None:
    (audit,) = settings_of(run_plan(full_spec("gcp", bundle)), "gcp:storage/bucket:Bucket", "audit")
    assert audit["retentionPolicy"]["isLocked"] is True
    (audit,) = settings_of(
        run_plan(full_spec("gcp", bundle, audit_lock_mode="governance")), "gcp:storage/bucket:Bucket", "audit"
    )
    assert audit["retentionPolicy"]["isLocked"] is False


# -- the guard, fed through each cloud's program ---------------------------------------------------------------
@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
@pytest.mark.parametrize("wildcard", ["s3:*", "ec2:Describe*"])
def test_no_program_deploys_a_wildcard(cloud: str, wildcard: str, bundle: str) -> None:
    spec = replace(make_spec(cloud, bundle), permissions=("ec2:StopInstances", wildcard))
    with pytest.raises(InfraError, match="refusing wildcard permissions") as caught:
        run_plan(spec)
    assert wildcard in str(caught.value)


def test_azure_refuses_escher_s_own_resource_group_as_a_named_group(bundle: str) -> None:
    # the plan's mocks name the group "group-mock"; Azure group names are case-insensitive
    with pytest.raises(InfraError, match="Escher's own resource group"):
        run_plan(full_spec("azure", bundle, azure_resource_groups=("prod-rg", "Group-Mock")))
