"""The declared tree of each cloud's Extension under Pulumi mocks, as plain data: every resource's URN, type,
name, provider and inputs, and the URNs its aliases resolve to.

``golden/tree-<cloud>.json`` holds the tree the one-function programs declared before the Extension was split
into parts (commit 9b90ca8); ``test_parts_keep_the_stack`` checks the parts declare the same resources with
the same inputs, each at its old URN or aliased to it, so an existing stack moves and nothing is replaced.

Regenerate (only when a resource is meant to change): ``python -m tests.functional.infra.parts_tree --write``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from escher.infra.spec import ExtensionSpec

GOLDEN = Path(__file__).parent / "golden"
BUNDLE = "<bundle>"

# the variants that reach every branch of the programs (events, regions, topics, groups, synced triggers)
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "aws": {
        "plain": {},
        "full": {
            "notify_email": "ops@example.com",
            "regions": ("eu-west-1", "us-east-1", "eu-central-1"),
            "audit_lock_mode": "compliance",
        },
        "no-events": {"events": ()},
    },
    "azure": {
        "plain": {},
        "synced": {
            "azure_triggers_synced": True,
            "azure_resource_groups": ("apps", "data"),
            "audit_lock_mode": "compliance",
        },
        "reused-topic": {
            "azure_system_topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.EventGrid/systemTopics/t",
            "azure_triggers_synced": True,
        },
        "no-events": {"events": ()},
    },
    "gcp": {
        "plain": {},
        "compliance": {"audit_lock_mode": "compliance"},
        "no-events": {"events": ()},
    },
}


def _plain(value: Any, bundle: str) -> Any:
    import pulumi

    if isinstance(value, str):
        return value.replace(bundle, BUNDLE)
    if isinstance(value, dict):
        return {k: _plain(v, bundle) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v, bundle) for v in value]
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return {"asset": type(value).__name__, "path": _plain(getattr(value, "path", ""), bundle)}
    if isinstance(value, pulumi.Resource):
        return {"resource": type(value).__name__}
    return value


def declared_tree(spec: ExtensionSpec) -> dict[str, Any]:
    """Run the program for ``spec`` under fresh mocks; the tree it declared, keyed by ``type::name``."""
    import pulumi
    from pulumi.runtime.resource import collapse_alias_to_urn

    from escher.infra.program import declare
    from tests.harness.pulumi_mocks import install_mocks

    recorder = install_mocks(preview=False)
    aliased: dict[str, list[Any]] = {}

    def note(args: Any) -> None:
        parent = args.opts.parent if args.opts is not None else None
        aliases = (args.opts.aliases if args.opts is not None else None) or []
        aliased[f"{args.type_}::{args.name}"] = [
            collapse_alias_to_urn(a, args.name, args.type_, parent) for a in aliases
        ]

    resolved: dict[str, list[str]] = {}

    @pulumi.runtime.test
    def program() -> Any:
        pulumi.runtime.register_stack_transformation(note)
        component = declare(spec)
        keys = [k for k, urns in aliased.items() for _ in urns]
        flat = [u for urns in aliased.values() for u in urns]

        def keep(urns: list[str]) -> None:
            for key, urn in zip(keys, urns, strict=True):
                resolved.setdefault(key, []).append(urn)

        return pulumi.Output.all(component.urn, *flat).apply(lambda a: keep(list(a[1:])))

    try:
        program()
        monitor = pulumi.runtime.settings.get_monitor()
        registered = monitor.get_registered_resources()
    finally:
        pulumi.runtime.settings.reset_options()
    urns = {f"{urn.split('::')[2].split('$')[-1]}::{urn.split('::')[3]}": urn for urn in registered}
    tree: dict[str, Any] = {}
    for r in recorder.resources:
        key = f"{r.type}::{r.name}"
        tree[key] = {
            "urn": urns[key],
            "provider": r.provider.split("::")[3] if r.provider else None,
            "inputs": _plain(r.inputs, spec.bundle_path),
            "aliases": sorted(resolved.get(key, [])),
        }
    return tree


def variant_spec(cloud: str, variant: str, bundle: str) -> ExtensionSpec:
    from tests.functional.infra.conftest import make_spec

    return replace(make_spec(cloud, bundle), **VARIANTS[cloud][variant])


def write_golden() -> None:
    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "worker.zip"
        bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
        for cloud, variants in VARIANTS.items():
            trees = {v: declared_tree(variant_spec(cloud, v, str(bundle))) for v in variants}
            for tree in trees.values():  # the golden tree is where resources were: no aliases yet
                for entry in tree.values():
                    entry.pop("aliases")
            (GOLDEN / f"tree-{cloud}.json").write_text(json.dumps(trees, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_golden()
