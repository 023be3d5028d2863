"""Each cloud's Extension in parts (issue #19): named child components with typed outputs, every resource in a
part aliased to where it was before the parts (so an existing stack moves, nothing is replaced), and no long
functions left in infra/."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.functional.infra.conftest import make_spec
from tests.functional.infra.parts_tree import VARIANTS, declared_tree, engine_urn, variant_spec

pulumi = pytest.importorskip("pulumi")

INFRA = Path(__file__).resolve().parents[3] / "infra"
MAX_FUNCTION_LINES = 80

# part name -> (type token, the outputs its dataclass carries); every cloud has these parts
PARTS: dict[str, dict[str, tuple[str, set[str]]]] = {
    "aws": {
        "state-store": ("escher:aws:StateStore", {"bucket", "arn", "url"}),
        "audit-store": ("escher:aws:AuditStore", {"bucket", "arn", "url"}),
        "secrets": ("escher:aws:Secrets", {"path", "arn_prefix", "names"}),
        "worker": ("escher:aws:Worker", {"name", "arn", "role_arn", "dead_letter_url", "log_group"}),
        "schedules": ("escher:aws:Schedules", {"group", "role_arn"}),
        "events": ("escher:aws:EventWiring", {"rule_names", "budgets_topic"}),
    },
    "azure": {
        "state-store": ("escher:azure:StateStore", {"account", "container", "url", "dead_letter_url"}),
        "audit-store": ("escher:azure:AuditStore", {"account", "container", "url"}),
        "secrets": ("escher:azure:Secrets", {"vault", "vault_id"}),
        "worker": ("escher:azure:Worker", {"app", "app_id", "schedule", "insights"}),
        "access": ("escher:azure:Access", {"read_actions", "operations_scopes"}),
        "events": ("escher:azure:EventWiring", {"outputs"}),
    },
    "gcp": {
        "apis": ("escher:gcp:Apis", {"services"}),
        "state-store": ("escher:gcp:StateStore", {"bucket", "url"}),
        "audit-store": ("escher:gcp:AuditStore", {"bucket", "url"}),
        "identities": ("escher:gcp:Identities", {"worker_email", "invoker_email", "builder_member"}),
        "secrets": ("escher:gcp:Secrets", {"secret_ids"}),
        "access": ("escher:gcp:Access", {"operations_role"}),
        "worker": ("escher:gcp:Worker", {"name", "url", "dead_letter_topic", "dead_letter_url"}),
        "schedules": ("escher:gcp:Schedules", {"daily_scan"}),
        "events": ("escher:gcp:EventWiring", {"outputs"}),
    },
}

# what some outputs resolve to under the mocks (providers' physical names are "<name>-mock")
RESOLVED: dict[str, dict[tuple[str, str], Any]] = {
    "aws": {
        ("state-store", "url"): "s3://escher-state-mock",
        ("audit-store", "bucket"): "escher-audit-mock",
        ("secrets", "path"): "/escher/credentials",
        ("secrets", "names"): ["azure", "gcp"],
        ("worker", "dead_letter_url"): "sqs://dead-letters-mock",
        ("schedules", "group"): "schedules-mock",
        ("events", "budgets_topic"): "arn:aws:mock:::budgets",
    },
    "azure": {
        ("state-store", "url"): "azblob://state-mock?account_url=https://state-mock.blob.core.windows.net",
        ("audit-store", "container"): "audit-mock",
        ("secrets", "vault"): "credentials-mock",
        ("worker", "schedule"): "0 0 0,1 * * *",  # 02:00 Europe/Paris in UTC, summer and winter
        ("access", "operations_scopes"): ["subscription"],
    },
    "gcp": {
        ("state-store", "url"): "gs://state-mock",
        ("audit-store", "bucket"): "audit-mock",
        ("identities", "builder_id"): "builder-id",
        ("secrets", "secret_ids"): ["escher-aws", "escher-azure"],
        ("worker", "dead_letter_topic"): "dead-letters-mock",
        ("schedules", "daily_scan"): "daily-scan-mock",
        # (the values come from the normalizers: test_gcp_wiring checks them)
        ("events", "outputs"): {"events_topic", "log_filter", "alarms_notification_channel", "budgets_topic"},
    },
}


@pytest.mark.parametrize(("cloud", "variant"), [(c, v) for c, variants in VARIANTS.items() for v in variants])
def test_every_resource_in_a_part_is_aliased_to_its_urn_directly_under_the_extension(
    cloud: str, variant: str, bundle: str
) -> None:
    """Stacks deployed before the parts hold each resource directly under the Extension: each resource now in
    a part carries an alias to that URN, so ``pulumi up`` moves it into the part instead of replacing it.
    (python -m tests.functional.infra.parts_tree compares the whole tree, inputs too, with an older commit.)"""
    tree = declared_tree(variant_spec(cloud, variant, bundle))
    extension = f"escher:{cloud}:Extension"
    parts = {k for k in tree if k.startswith(f"escher:{cloud}:") and not k.startswith(f"{extension}::")}
    assert parts, "no parts declared"
    for key in parts:
        assert engine_urn(tree[key]["urn"]).startswith(
            f"urn:pulumi:test::escher::{extension}$escher:{cloud}:"
        )
    in_parts = 0
    for key, entry in tree.items():
        if key in parts or key.startswith(f"{extension}::"):
            continue
        type_, name = key.split("::")
        old = f"urn:pulumi:test::escher::{extension}${type_}::{name}"
        urn, aliases = engine_urn(entry["urn"]), [engine_urn(a) for a in entry["aliases"]]
        assert old in (urn, *aliases), (
            f"{key} would be replaced on an existing stack: neither at nor aliased to {old}"
        )
        in_parts += urn != old
    assert in_parts > len(tree) // 2, "most resources live in parts"


@pytest.mark.parametrize("cloud", list(PARTS))
def test_the_component_tree_has_the_named_parts_with_their_outputs(cloud: str, bundle: str) -> None:
    from escher.infra.program import declare
    from tests.harness.pulumi_mocks import install_mocks

    install_mocks(preview=False)
    resolved: dict[str, dict[str, Any]] = {}
    parents: dict[str, Any] = {}

    def note(args: Any) -> None:
        if args.type_.startswith(f"escher:{cloud}:") and args.opts is not None:
            parents[args.name] = args.opts.parent

    @pulumi.runtime.test
    def program() -> Any:
        pulumi.runtime.register_stack_transformation(note)
        component = declare(make_spec(cloud, bundle))
        assert set(component.parts) == set(PARTS[cloud])
        waits = []
        for name, part in component.parts.items():
            kind, wanted = PARTS[cloud][name]
            assert part._type == kind
            assert parents[name] is component
            outputs = {f.name: getattr(part.outputs, f.name) for f in dataclasses.fields(part.outputs)}
            assert wanted <= set(outputs), f"{name} lacks {wanted - set(outputs)}"
            keys = list(outputs)
            waits.append(
                pulumi.Output.all(*outputs.values()).apply(
                    lambda values, name=name, keys=keys: resolved.update(
                        {name: dict(zip(keys, values, strict=True))}
                    )
                )
            )
        return pulumi.Output.all(*waits)

    try:
        program()
    finally:
        pulumi.runtime.settings.reset_options()
    assert set(resolved) == set(PARTS[cloud])
    for (name, key), value in RESOLVED[cloud].items():
        if isinstance(value, set):  # the keys of a dict output
            assert value <= set(resolved[name][key]), f"{cloud} {name}.{key}"
        else:
            assert resolved[name][key] == value, f"{cloud} {name}.{key}"


def _long_functions(root: Path = INFRA) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(
                        f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({length} lines)"
                    )
    return found


def test_no_function_in_infra_is_over_80_lines() -> None:
    assert _long_functions() == []


def test_the_line_count_sees_a_long_function_and_only_that(tmp_path: Path) -> None:
    (tmp_path / "infra" / "parts").mkdir(parents=True)
    body = "\n".join(f"        x{i} = {i}" for i in range(MAX_FUNCTION_LINES - 1))
    (tmp_path / "infra" / "parts" / "x.py").write_text(
        f"class C:\n    def long(self) -> None:\n{body}\n        x = 0\n\n\ndef short() -> None:\n{body}\n"
    )
    assert _long_functions(tmp_path / "infra") == [
        f"infra/parts/x.py:2 long ({MAX_FUNCTION_LINES + 1} lines)"
    ]
