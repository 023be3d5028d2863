"""Pre-approved auto-remediation: the setup wizard's switches, stored under ``[remediation]`` in the config.

Every switch is off unless the user turns it on. A worker acting on an event may run an operation without
asking only when the switch that covers it is on (and, for idle / capacity, the event's facts pass the bar).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.config import ConfigError, Paths
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
    """Write the ``[remediation]`` section into the config file, keeping the rest of the file as it is.

    Only the ``[remediation]`` table's lines are replaced, so the other sections keep their comments and
    layout. When the file holds the section in a form that cannot be replaced line by line (an inline table,
    dotted keys), the whole file is rewritten from its parsed data: nothing is lost but its comments. The
    result is checked by parsing it back, then written to a temporary file and renamed over the config
    (readers see the old file or the new one, never half of one).
    """
    import tomli_w

    text = paths.config_file.read_text(encoding="utf-8") if paths.config_file.exists() else ""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{paths.config_file} is not valid TOML: {exc}", hint="fix it first") from exc
    wanted = {**raw, "remediation": settings.model_dump()}
    new_text = _replace_table(text, "remediation", tomli_w.dumps({"remediation": settings.model_dump()}))
    try:
        ok = new_text is not None and tomllib.loads(new_text) == wanted
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok or new_text is None:
        new_text = tomli_w.dumps(wanted)
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.config_file.with_name(f".{paths.config_file.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(new_text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(paths.config_file)


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _replace_table(text: str, name: str, table: str) -> str | None:
    """``text`` with the lines of table ``[name]`` (and its sub-tables) replaced by ``table``; appended when
    the file has no such header. None when the header appears more than once (not valid TOML anyway)."""
    lines = text.splitlines(keepends=True)
    heads = [(i, m.group(1)) for i, line in enumerate(lines) if (m := _HEADER.match(line))]
    mine = [i for i, head in heads if head == name]
    if not mine:
        sep = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
        return text + sep + table
    if len(mine) > 1:
        return None
    start = mine[0]
    end = next(
        (i for i, head in heads if i > start and head != name and not head.startswith(f"{name}.")), len(lines)
    )
    # comments and blank lines just above the next header belong to it: keep them
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    tail = lines[end:]
    gap = "\n" if tail and tail[0].strip() else ""  # one blank line before the next section
    return "".join(lines[:start]) + table + gap + "".join(tail)
