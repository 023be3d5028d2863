"""The catalogue's metadata: enough operations per cloud, each complete, and least privilege computed from it."""

from __future__ import annotations

import pytest

from escher.ops import OPERATIONS, OpError, Target, permissions_for
from escher.ops._common import parse_arm_id, parse_gcp_path
from escher.ops.model import Risk


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_at_least_twelve_operations_per_cloud(cloud: str) -> None:
    assert len(OPERATIONS.keys(f"{cloud}.")) >= 12


def test_every_operation_is_complete_and_consistent() -> None:
    for op_id, op in OPERATIONS.items():
        assert op.description and op.permissions and op.cli.split()[0] in {"aws", "az", "gcloud"}, op_id
        prefix = {
            "aws": (
                *("ec2:", "s3:", "rds:", "lambda:", "kms:"),  # kms: encrypting a volume with a chosen key
                # aws.tagging.tag_resource: the Tagging API, and each collected service's own tag permission
                *("tag:", "dynamodb:", "sqs:", "sns:", "logs:", "elasticfilesystem:", "cloudtrail:"),
            ),
            "azure": ("Microsoft.",),
            "gcp": ("compute.", "storage.", "cloudsql.", "run.", "iam.serviceAccounts.actAs"),
        }
        assert all(p.startswith(prefix[op.cloud]) for p in op.permissions), op_id
        if op.inverse is not None:
            assert op.inverse in OPERATIONS and op.reversible, op_id
        assert op.approval_required == (op.risk in (Risk.high, Risk.critical)), op_id
        op.describe()  # the JSON schema of the parameters renders


def test_permissions_for_merges_sorts_and_groups_by_cloud() -> None:
    perms = permissions_for(
        ["aws.ec2.stop_instances", "aws.ec2.start_instances", "gcp.compute.stop_instance"]
    )
    assert perms == {
        "aws": ["ec2:DescribeInstances", "ec2:StartInstances", "ec2:StopInstances"],
        "gcp": [
            "compute.instances.get",
            "compute.instances.list",  # to select instances by label (--tag)
            "compute.instances.stop",
            "compute.zoneOperations.get",
        ],
    }


def test_unknown_operation_suggests_close_names() -> None:
    from escher.registry import UnknownEntryError

    with pytest.raises(UnknownEntryError, match=r"did you mean aws\.ec2\.stop_instances"):
        OPERATIONS.get("aws.ec2.stop_instance")


def test_parameters_are_validated_with_a_hint() -> None:
    op = OPERATIONS.get("aws.ec2.modify_instance_type")
    with pytest.raises(OpError, match="instance_type") as err:
        op.parse_params({"instance_typ": "t3.large"})
    assert err.value.hint and "escher ops show" in err.value.hint
    assert op.parse_params({"instance_type": "t3.large"}).instance_type == "t3.large"  # type: ignore[attr-defined]


def test_cli_equivalent_is_filled_in() -> None:
    op = OPERATIONS.get("aws.ec2.stop_instances")
    assert op.cli_for(Target("aws", "i-1", "eu-west-1"), op.parse_params({})) == (
        "aws ec2 stop-instances --region eu-west-1 --instance-ids i-1"
    )


def test_resource_id_parsers() -> None:
    rule = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n/securityRules/r"
    arm = parse_arm_id(rule, "networkSecurityGroups", "securityRules")
    assert (arm.subscription, arm.resource_group, arm.parent, arm.name) == ("s", "rg", "n", "r")
    with pytest.raises(OpError, match="expected type"):
        parse_arm_id(rule, "virtualMachines")
    path = parse_gcp_path("projects/p/zones/z/instances/i", "instances", scope="zones")
    assert (path.project, path.location, path.name) == ("p", "z", "i")
    assert parse_gcp_path("projects/p/global/firewalls/f", "firewalls", scope=None).name == "f"
    with pytest.raises(OpError, match="projects/<project>/global/firewalls/<name>"):
        parse_gcp_path("projects/p/firewalls/f", "firewalls", scope=None)
