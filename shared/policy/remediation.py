"""Pre-approved auto-remediation: the setup wizard's switches, stored under ``[remediation]`` in the config.

Every switch is off unless the user turns it on. A worker acting on an event may run an operation without
asking only when the switch that covers it is on (and, for idle / capacity, the event's facts pass the bar).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.config import Paths
from escher.policy.errors import PolicyError, UnknownNameError

__all__ = [
    "SWITCHES",
    "THRESHOLDS",
    "RemediationSettings",
    "Switch",
    "find_switch",
    "load_remediation",
    "pre_approved",
    "save_remediation",
    "set_switch",
]


@dataclass(frozen=True)
class Switch:
    setting: str
    label: str
    operations: tuple[str, ...]


# The vision's wizard, in its order. Rolling back deployments: a Lambda alias, an Azure Functions slot swapped
# back, a Cloud Run service's traffic sent back to the revision before.
SWITCHES: tuple[Switch, ...] = (
    Switch(
        "make_public_buckets_private",
        "Automatically make public buckets private",
        (
            "aws.s3.block_public_access",
            "azure.storage.make_container_private",
            "azure.storage.disallow_blob_public_access",
            "gcp.storage.enforce_public_access_prevention",
            "gcp.storage.remove_public_bindings",
        ),
    ),
    Switch(
        "stop_idle_instances",
        "Automatically stop idle instances after N hours",
        ("aws.ec2.stop_instances", "azure.compute.deallocate_vm", "gcp.compute.stop_instance"),
    ),
    Switch(
        "encrypt_unencrypted_volumes",
        "Automatically enable encryption on unencrypted volumes",
        # encrypt_volume only for a volume the event says is not attached (facts: attached=False): swapping an
        # attached one stops its instance, so that still needs a person's approval
        (
            "aws.ec2.enable_ebs_encryption_by_default",
            "aws.s3.enable_default_encryption",
            "aws.ec2.encrypt_volume",
        ),
    ),
    Switch(
        "scale_up_near_capacity",
        "Automatically scale up resources approaching capacity",
        (
            "aws.ec2.modify_instance_type",
            "aws.rds.increase_storage",
            "azure.compute.resize_vm",
            "azure.sql.increase_max_size",
            "gcp.compute.set_machine_type",
            "gcp.sql.increase_storage",
        ),
    ),
    Switch(
        "restart_failed_services",
        "Automatically restart failed services",
        ("aws.ec2.reboot_instances", "azure.compute.restart_vm", "gcp.compute.reset_instance"),
    ),
    Switch(
        "rollback_failed_deployments",
        "Automatically roll back failed deployments",
        ("aws.lambda.rollback_alias", "azure.functions.swap_slot", "gcp.run.rollback_revision"),
    ),
)


class RemediationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    make_public_buckets_private: bool = False
    stop_idle_instances: bool = False
    idle_hours: float = Field(default=2.0, gt=0, description="how long an instance is idle before it stops")
    encrypt_unencrypted_volumes: bool = False
    scale_up_near_capacity: bool = False
    capacity_percent: float = Field(default=90.0, gt=0, le=100, description="utilisation that counts as near")
    restart_failed_services: bool = False
    rollback_failed_deployments: bool = False


def load_remediation(extensions: dict[str, Any]) -> RemediationSettings:
    try:
        return RemediationSettings.model_validate(extensions.get("remediation", {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PolicyError(
            f"[remediation] {'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
            hint=f"known settings: {', '.join(RemediationSettings.model_fields)}",
        ) from None


def pre_approved(settings: RemediationSettings, operation_id: str, facts: dict[str, Any]) -> str | None:
    """The switch that pre-approves ``operation_id`` given the event's ``facts``, else None.

    ``facts``: ``idle_hours`` for stopping idle instances, ``utilization_percent`` for scaling up, ``attached``
    for encrypting a volume (only ``False`` pre-approves it: an attached volume's swap stops its instance).
    """
    for switch in SWITCHES:
        if operation_id not in switch.operations or not getattr(settings, switch.setting):
            continue
        if (
            switch.setting == "stop_idle_instances"
            and float(facts.get("idle_hours", 0)) < settings.idle_hours
        ):
            continue
        if operation_id == "aws.ec2.encrypt_volume" and facts.get("attached") is not False:
            continue
        if (
            switch.setting == "scale_up_near_capacity"
            and float(facts.get("utilization_percent", 0)) < settings.capacity_percent
        ):
            continue
        return switch.setting
    return None


THRESHOLDS: dict[str, str] = {
    "stop_idle_instances": "idle_hours",
    "scale_up_near_capacity": "capacity_percent",
}


def find_switch(name: str) -> Switch:
    """A switch by its setting name (``stop_idle_instances``; ``stop-idle-instances`` works too)."""
    wanted = name.strip().lower().replace("-", "_")
    for switch in SWITCHES:
        if switch.setting == wanted:
            return switch
    raise UnknownNameError(
        f"no remediation switch named {name!r}",
        hint=f"use one of: {', '.join(s.setting for s in SWITCHES)} (see 'escher remediation list')",
    )


def set_switch(
    settings: RemediationSettings, name: str, enabled: bool, **thresholds: float | None
) -> RemediationSettings:
    """A copy of ``settings`` with switch ``name`` on or off and its threshold (if it has one) changed."""
    switch = find_switch(name)
    changes: dict[str, Any] = {switch.setting: enabled}
    for key, value in thresholds.items():
        if value is None:
            continue
        if THRESHOLDS.get(switch.setting) != key:
            owner = next((s for s, k in THRESHOLDS.items() if k == key), "no switch")
            raise PolicyError(
                f"{key} is a threshold of {owner}, not of {switch.setting}",
                hint=f"'escher remediation enable {owner} --{key.replace('_', '-')} N'",
            )
        changes[key] = value
    try:
        return RemediationSettings.model_validate({**settings.model_dump(), **changes})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PolicyError(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
            hint="idle hours must be above 0; the capacity percent above 0 and at most 100",
        ) from None


def save_remediation(paths: Paths, settings: RemediationSettings) -> None:
    """Write the ``[remediation]`` section into the config file, keeping the rest of the file as it is
    (:func:`escher.config_write.write_section`: only its lines change; written atomically)."""
    from escher.config_write import write_section

    write_section(paths, "remediation", settings.model_dump())
