"""The Pulumi program: picks the cloud from stack config and declares that cloud's Extension.

Programs are functions (:func:`declare`) so that ``escher extend`` (Automation API, inline), ``--plan``
(mocks, in-process) and the tests all run the very same code; :func:`main` is the entry for the Pulumi CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from escher.clouds import CLOUDS
from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.infra.component import Extension
    from escher.infra.spec import ExtensionSpec

__all__ = ["CLOUDS", "InfraError", "declare", "main"]


class InfraError(EscherError):
    """Provisioning cannot go on; the message says why and what to do."""


def declare(spec: ExtensionSpec) -> Extension:
    """Declare ``spec.cloud``'s Extension component (its provider's ``infra`` reference) and export its
    outputs (call inside a Pulumi program)."""
    import pulumi

    from escher.clouds import PROVIDERS

    if spec.cloud not in PROVIDERS:
        raise InfraError(f"unknown cloud {spec.cloud!r}", hint=f"use one of {', '.join(CLOUDS)}")
    component: Extension = PROVIDERS[spec.cloud].load("infra")("escher", spec)
    for key, value in component.outputs.items():
        pulumi.export(key, value)
    return component


def main() -> None:
    """Run as a Pulumi program by the Pulumi CLI (``pulumi up`` in the repo root)."""
    from escher.lazy import require

    pulumi = require("pulumi", "infra")
    config = pulumi.Config("escher")
    cloud = config.get("cloud")
    if cloud not in CLOUDS:
        raise InfraError(
            f"stack config 'escher:cloud' is {cloud!r}; it must be one of {', '.join(CLOUDS)}",
            hint="run 'pulumi config set escher:cloud aws' (or azure, gcp)",
        )
    bundle = config.get("bundle")
    if not bundle:
        raise InfraError(
            "stack config 'escher:bundle' is not set: the worker zip to deploy",
            hint="run 'escher extend CLOUD' (it builds the bundle), or set escher:bundle to a zip path",
        )
    from escher.clouds import PROVIDERS
    from escher.infra.spec import spec_from_settings

    region = config.get("region") or pulumi.Config(cloud).get(PROVIDERS[cloud].region_kind)
    declare(spec_from_settings(cloud, region=region, bundle_path=bundle))
