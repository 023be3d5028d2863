"""The declared tree of each cloud's Extension under Pulumi mocks, as plain data: every resource's URN, type,
name, provider and inputs, and the URNs its aliases resolve to.

Checking that a change to the programs moves an existing stack rather than replacing anything: dump the trees
the programs of an earlier commit declare (their cloud modules loaded from git, everything else as it is
now), then compare them with what the programs declare now (same resources, same inputs, each at its old URN
or aliased to it)::

    python -m tests.functional.infra.parts_tree dump 9b90ca8 /tmp/before.json
    python -m tests.functional.infra.parts_tree compare /tmp/before.json

(9b90ca8: the one-function programs, before the Extensions were split into parts.) The suite keeps the part
of this that does not depend on an old commit: tests/functional/infra/test_parts.py.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from escher.infra.spec import ExtensionSpec

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
        "all-operations": {},
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
        "all-operations": {},
    },
    "gcp": {
        "plain": {},
        "compliance": {"audit_lock_mode": "compliance"},
        "no-events": {"events": ()},
        "all-operations": {},
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
    from escher.infra.permissions import default_operations, operation_permissions
    from tests.functional.infra.conftest import make_spec

    spec = replace(make_spec(cloud, bundle), **VARIANTS[cloud][variant])
    if variant == "all-operations":  # the default install: every catalogue operation, so every role is made
        ops = default_operations(cloud)
        spec = replace(spec, operations=ops, permissions=operation_permissions(cloud, ops))
    return spec


CLOUD_MODULES = ("aws_events", "aws", "azure_events", "azure", "gcp_events", "gcp")


def load_cloud_modules(rev: str, into: Path) -> None:
    """Replace the cloud modules (``escher.infra.aws`` ...) of this process with those of commit ``rev``."""
    import importlib.util
    import subprocess

    repo = Path(__file__).resolve().parents[3]
    for name in CLOUD_MODULES:
        source = subprocess.run(
            ["git", "show", f"{rev}:infra/{name}.py"], cwd=repo, check=True, capture_output=True, text=True
        ).stdout
        path = into / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(f"escher.infra.{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)


def all_trees(bundle: str) -> dict[str, dict[str, Any]]:
    return {
        f"{cloud}/{variant}": declared_tree(variant_spec(cloud, variant, bundle))
        for cloud, variants in VARIANTS.items()
        for variant in variants
    }


def engine_urn(urn: str) -> str:
    """The URN as the engine spells it: the mock monitor keeps the root stack's type in the qualified type of
    the stack's direct children (``pulumi:pulumi:Stack$escher:aws:Extension``), the engine leaves it out."""
    return urn.replace("pulumi:pulumi:Stack$", "")


def differences(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """What would change on a stack deployed with ``before``: resources added or gone (parts aside), inputs
    changed, or a resource that is neither at its old URN nor aliased to it (it would be replaced)."""
    found = []
    for variant, old_tree in before.items():
        new_tree = after[variant]
        parts = {k for k in new_tree if k.startswith("escher:") and ":Extension::" not in k}
        for key in sorted(set(new_tree) - parts - set(old_tree)):
            found.append(f"{variant}: {key} is new")
        for key, old in sorted(old_tree.items()):
            new = new_tree.get(key)
            if new is None:
                found.append(f"{variant}: {key} is gone")
                continue
            if new["inputs"] != old["inputs"] or new["provider"] != old["provider"]:
                found.append(f"{variant}: {key} has other inputs")
            aliases = [engine_urn(a) for a in new["aliases"]]
            if engine_urn(old["urn"]) not in (engine_urn(new["urn"]), *aliases):
                found.append(f"{variant}: {key} would be replaced (not at {old['urn']}, nor aliased to it)")
    return found


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "worker.zip"
        bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
        if argv[:1] == ["dump"] and len(argv) == 3:
            load_cloud_modules(argv[1], Path(tmp))
            Path(argv[2]).write_text(json.dumps(all_trees(str(bundle)), indent=1, sort_keys=True) + "\n")
            return 0
        if argv[:1] == ["compare"] and len(argv) == 2:
            before = json.loads(Path(argv[1]).read_text())
            after = all_trees(str(bundle))
            found = differences(before, after)
            counted = sum(len(t) for t in before.values())
            print(f"{counted} resources in {len(before)} variants compared: {len(found)} differences")
            print("\n".join(found))
            return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
