"""The wildcard guard, the scoping tables against the catalogue, and the [extend] knobs of least privilege."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import pytest

from escher.config import ConfigError, Settings
from escher.infra.permissions import (
    AwsStateArns,
    aws_policy_document,
    check_no_wildcards,
    operation_permissions,
)
from escher.infra.program import InfraError
from escher.infra.scoping import (
    MODIFY_INSTANCE_ATTRIBUTE_OPERATIONS,
    azure_split_actions,
    gcp_split_permissions,
)
from escher.infra.spec import ExtensionSpec, extend_settings, spec_from_settings

WILDCARDS = ("s3:*", "ec2:Describe*", "ec2:Describe?nstances", "Microsoft.Storage/*/write")
ARNS = AwsStateArns(
    state_bucket="arn:aws:s3:::escher-state-1",
    audit_bucket="arn:aws:s3:::escher-audit-1",
    parameters_prefix="arn:aws:ssm:eu-west-1:123456789012:parameter/escher/credentials",
    log_group="arn:aws:logs:eu-west-1:123456789012:log-group:/escher/worker",
    dead_letter_queue="arn:aws:sqs:eu-west-1:123456789012:dead-letters",
    account="123456789012",
)


class WildCatalogue:
    """A catalogue whose one operation asks for ``perms`` (what a careless catalogue entry would do)."""

    def __init__(self, perms: Sequence[str]) -> None:
        self.perms = perms

    def known(self, operation_id: str) -> bool:
        return operation_id == "aws.s3.everything"

    def cloud_operations(self, cloud: str) -> list[str]:
        return ["aws.s3.everything"] if cloud == "aws" else []

    def permissions_for(self, operation_ids: Iterable[str]) -> Mapping[str, Sequence[str]]:
        return {"aws": list(self.perms)}


@pytest.mark.parametrize("wildcard", WILDCARDS)
def test_the_guard_refuses_every_wildcard(wildcard: str) -> None:
    with pytest.raises(InfraError, match="wildcard"):
        check_no_wildcards(["ec2:StopInstances", wildcard])


@pytest.mark.parametrize("wildcard", ["s3:*", "ec2:Describe*"])
def test_a_catalogue_wildcard_never_reaches_a_policy(wildcard: str) -> None:
    with pytest.raises(InfraError, match="wildcard"):
        operation_permissions(
            "aws", ["aws.s3.everything"], catalogue=WildCatalogue(["s3:GetObject", wildcard])
        )
    with pytest.raises(InfraError, match="wildcard"):
        aws_policy_document(["ec2:StopInstances", wildcard], ARNS)


def test_exact_actions_pass_the_guard() -> None:
    check_no_wildcards(["ec2:StopInstances", "Microsoft.Compute/virtualMachines/read", "storage.buckets.get"])
    assert operation_permissions("aws", ["aws.s3.everything"], catalogue=WildCatalogue(["s3:GetObject"])) == (
        "s3:GetObject",
    )


def test_every_catalogue_operation_calling_modify_instance_attribute_names_its_attribute() -> None:
    ops = pytest.importorskip("escher.ops")
    callers = {
        op
        for op in ops.OPERATIONS.keys("aws.")
        if "ec2:ModifyInstanceAttribute" in ops.OPERATIONS.get(op).permissions
    }
    assert callers, "the catalogue no longer modifies instance attributes: drop the table"
    assert callers == set(MODIFY_INSTANCE_ATTRIBUTE_OPERATIONS)
    # one Null block ANDs its keys: two attributes would allow nothing (give the second its own statement)
    assert len(set(MODIFY_INSTANCE_ATTRIBUTE_OPERATIONS.values())) == 1


def test_azure_changes_on_escher_s_own_providers_are_set_apart() -> None:
    reads, elsewhere, own = azure_split_actions(
        [
            "Microsoft.Storage/storageAccounts/read",
            "Microsoft.Storage/storageAccounts/write",
            "Microsoft.Storage/storageAccounts/blobServices/containers/write",
            "Microsoft.KeyVault/vaults/delete",
            "Microsoft.Compute/virtualMachines/deallocate/action",
        ]
    )
    assert reads == ["Microsoft.Storage/storageAccounts/read"]
    assert elsewhere == ["Microsoft.Compute/virtualMachines/deallocate/action"]
    assert own == [
        "Microsoft.KeyVault/vaults/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        "Microsoft.Storage/storageAccounts/write",
    ]


def test_gcp_bucket_changes_are_set_apart_from_reads() -> None:
    anywhere, not_own = gcp_split_permissions(
        ["storage.buckets.get", "storage.buckets.getIamPolicy", "storage.buckets.list", "storage.buckets.update",
         "storage.buckets.setIamPolicy", "storage.objects.delete", "compute.instances.stop"]
    )  # fmt: skip
    assert anywhere == [
        "compute.instances.stop",
        "storage.buckets.get",
        "storage.buckets.getIamPolicy",
        "storage.buckets.list",
    ]
    assert not_own == ["storage.buckets.setIamPolicy", "storage.buckets.update", "storage.objects.delete"]


def _settings(extend: dict[str, object]) -> Settings:
    return Settings.model_validate({"gcp": {"project": "p"}, "extensions": {"extend": extend}})


def test_the_audit_lock_defaults_to_compliance_on_gcp_only() -> None:
    settings = _settings({"operations": None})
    locks = {
        c: spec_from_settings(c, bundle_path="b.zip", settings=settings).lock_mode
        for c in ("aws", "azure", "gcp")
    }
    assert locks == {"aws": "governance", "azure": "governance", "gcp": "compliance"}
    governance = _settings({"audit_lock_mode": "governance"})
    assert spec_from_settings("gcp", bundle_path="b.zip", settings=governance).lock_mode == "governance"
    spec = ExtensionSpec(
        cloud="aws", region="r", bundle_path="b", permissions=(), audit_lock_mode="compliance"
    )
    assert spec.lock_mode == "compliance"


def test_named_resource_groups_reach_the_azure_spec_and_bad_names_are_refused() -> None:
    settings = _settings({"resource_groups": ["prod-rg", "data.(eu)"]})
    spec = spec_from_settings("azure", bundle_path="b.zip", settings=settings)
    assert spec.azure_resource_groups == ("prod-rg", "data.(eu)")
    for bad in ("ends-with-dot.", "has/slash", ""):
        with pytest.raises(ConfigError, match="resource_groups"):
            extend_settings(_settings({"resource_groups": [bad]}))


def test_two_scopes_with_one_name_are_refused_before_iam_refuses_the_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from escher.infra import scoping

    clash = scoping.AwsScope("Instances", ("arn:{partition}:ec2:*:{account}:volume/*",))
    monkeypatch.setitem(scoping.AWS_ACTION_SCOPES, "ec2:DeleteVolume", clash)
    with pytest.raises(InfraError, match="Sid"):
        aws_policy_document(["ec2:StopInstances", "ec2:DeleteVolume"], ARNS)
    assert aws_policy_document(["ec2:StopInstances"], ARNS)  # one scope of that name is fine


def test_the_full_aws_policy_fits_an_inline_role_policy() -> None:
    # IAM: all inline policies of a role together <= 10,240 characters, whitespace not counted
    pytest.importorskip("escher.ops")
    from escher.infra.permissions import aws_own_function_policy, default_operations

    granted = operation_permissions("aws", default_operations("aws"))
    document = aws_policy_document(granted, ARNS)
    own = aws_own_function_policy(
        "arn:aws:lambda:eu-west-1:123456789012:function:escher-worker-1a2b3c", granted
    )
    both = sum(len(json.dumps(d, separators=(",", ":"))) for d in (document, own))
    assert (
        both < 10_240 * 0.75
    )  # the role's two inline policies together, with room for the catalogue to grow
