"""Pre-approved auto-remediation: the setup wizard's switches, stored under ``[remediation]`` in the config.

Every switch is off unless the user turns it on. A worker acting on an event may run an operation without
asking only when the switch that covers it is on (and, for idle / capacity, the event's facts pass the bar).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.config import ConfigError, Paths
from escher.policy.errors import PolicyError

__all__ = [
    "SWITCHES",
    "RemediationSettings",
    "Switch",
    "load_remediation",
    "pre_approved",
    "save_remediation",
]


@dataclass(frozen=True)
class Switch:
    setting: str
    label: str
    operations: tuple[str, ...]


# The vision's wizard, in its order. Rolling back deployments has no operation in the catalogue yet: the switch
# exists (the user's choice is kept) but approves nothing until one is added.
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
        ("aws.ec2.enable_ebs_encryption_by_default", "aws.s3.enable_default_encryption"),
    ),
    Switch(
        "scale_up_near_capacity",
        "Automatically scale up resources approaching capacity",
        ("aws.ec2.modify_instance_type", "azure.compute.resize_vm", "gcp.compute.set_machine_type"),
    ),
    Switch(
        "restart_failed_services",
        "Automatically restart failed services",
        ("aws.ec2.reboot_instances", "azure.compute.restart_vm", "gcp.compute.reset_instance"),
    ),
    Switch("rollback_failed_deployments", "Automatically roll back failed deployments", ()),
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

    ``facts``: ``idle_hours`` for stopping idle instances, ``utilization_percent`` for scaling up.
    """
    for switch in SWITCHES:
        if operation_id not in switch.operations or not getattr(settings, switch.setting):
            continue
        if (
            switch.setting == "stop_idle_instances"
            and float(facts.get("idle_hours", 0)) < settings.idle_hours
        ):
            continue
        if (
            switch.setting == "scale_up_near_capacity"
            and float(facts.get("utilization_percent", 0)) < settings.capacity_percent
        ):
            continue
        return switch.setting
    return None


def save_remediation(paths: Paths, settings: RemediationSettings) -> None:
    """Write the ``[remediation]`` section into the config file, keeping every other section as it is."""
    import tomli_w

    raw: dict[str, Any] = {}
    if paths.config_file.exists():
        try:
            raw = tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{paths.config_file} is not valid TOML: {exc}", hint="fix it first") from exc
    raw["remediation"] = settings.model_dump()
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.config_file.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(raw), encoding="utf-8")
    tmp.replace(paths.config_file)
