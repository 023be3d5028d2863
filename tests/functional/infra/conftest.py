"""Shared pieces for the component tests: a spec factory, mocks that are reset after each test, parents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from escher.infra.permissions import operation_permissions
from escher.infra.spec import ExtensionSpec
from tests.harness.pulumi_mocks import Recorder

pulumi = pytest.importorskip("pulumi")

OPS = {
    "aws": ("aws.scan.daily_inventory",),
    "azure": ("azure.scan.daily_inventory",),
    "gcp": ("gcp.scan.daily_inventory",),
}


@pytest.fixture
def bundle(tmp_path: Path) -> str:
    path = tmp_path / "worker.zip"
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    return str(path)


def make_spec(cloud: str, bundle_path: str, **changes: Any) -> ExtensionSpec:
    ops = changes.pop("operations", OPS[cloud])
    spec = ExtensionSpec(
        cloud=cloud,  # type: ignore[arg-type]
        region={"aws": "eu-west-1", "azure": "westeurope", "gcp": "europe-west1"}[cloud],
        bundle_path=bundle_path,
        permissions=operation_permissions(cloud, ops, catalogue=None),
        operations=tuple(ops),
        timezone="Europe/Paris",
        daily_scan_at="02:00",
        audit_retention_days=400,
        credential_names=tuple(c for c in ("aws", "azure", "gcp") if c != cloud),
        gcp_project="escher-test",
    )
    return replace(spec, **changes)


@pytest.fixture
def mocks(pulumi_mocks: Recorder) -> Iterator[Recorder]:
    """The harness mocks, reset afterwards: Pulumi's settings are process-global."""
    yield pulumi_mocks
    pulumi.runtime.settings.reset_options()


def no_wildcards(strings: list[str]) -> list[str]:
    return [s for s in strings if "*" in s]


def record_parents(parents: dict[str, str]) -> None:
    """Register a stack transformation that maps each resource to its parent's type token in ``parents``."""

    def note(args: Any) -> None:
        parent = args.opts.parent if args.opts is not None else None
        parents[f"{args.type_}::{args.name}"] = getattr(parent, "_type", None) or type(parent).__name__

    pulumi.runtime.register_stack_transformation(note)


def inputs_of(recorder: Recorder, type_token: str, name: str) -> dict[str, Any]:
    found = [r for r in recorder.of_type(type_token) if r.name == name]
    assert len(found) == 1, f"expected one {type_token} named {name}, got {[r.name for r in found]}"
    return found[0].inputs


def all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from all_strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from all_strings(v)


class Deployed:
    """What a program declared under mocks, read after every registration and apply has finished."""

    def __init__(self, recorder: Recorder, outputs: dict[str, Any], parents: dict[str, str]) -> None:
        self.recorder = recorder
        self.outputs = outputs
        self.parents = parents
        self.resources = recorder.resources

    def of_type(self, type_token: str) -> list[Any]:
        return self.recorder.of_type(type_token)

    def one(self, type_token: str, name: str) -> dict[str, Any]:
        return inputs_of(self.recorder, type_token, name)


def run_under_mocks(spec: ExtensionSpec) -> Deployed:
    """Run the real program for ``spec`` under fresh mocks; always reset Pulumi's global settings."""
    from escher.infra.program import declare
    from tests.harness.pulumi_mocks import install_mocks

    recorder = install_mocks(preview=False)
    outputs: dict[str, Any] = {}
    parents: dict[str, str] = {}

    @pulumi.runtime.test
    def program() -> Any:
        record_parents(parents)
        component = declare(spec)
        keys = list(component.outputs)
        return pulumi.Output.all(*component.outputs.values()).apply(
            lambda values: outputs.update(zip(keys, values, strict=True))
        )

    try:
        program()
    finally:
        pulumi.runtime.settings.reset_options()
    assert outputs, "the program's outputs never resolved"
    return Deployed(recorder, outputs, parents)
