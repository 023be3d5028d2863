"""A cloud SDK is imported only by a module its cloud's provider declares (``escher.clouds.PROVIDERS``).

Reads every module of shared/, cli/, workers/ and brain/ as source (nothing is imported): an ``import`` or
``from`` of a cloud SDK, and a ``require("<sdk module>", ...)`` (``escher.lazy``), count. infra/ is left out: its
Pulumi programs are the one place that builds cloud resources through Pulumi's own SDKs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest

from escher.clouds import CLOUDS, PROVIDERS, Cloud, owner_of, provider, sdk_owner
from escher.registry import KEY_PATTERN
from tests.unit.test_packaging import REPO, ROOTS

CHECKED = {root: folder for root, folder in ROOTS.items() if root != "escher.infra"}

# Modules that still import a cloud SDK without being their cloud's: each is a known debt with its reason.
# Shrink this, never grow it.
KNOWN: dict[str, str] = {}


@dataclass(frozen=True)
class Use:
    module: str
    line: int
    sdk_module: str


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root, folder in CHECKED.items():
        base = REPO / folder
        for py in sorted(base.rglob("*.py")):
            rel = py.relative_to(base).with_suffix("")
            if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([root, *parts])] = py
    return found


def sdk_uses(module: str, source: str) -> list[Use]:
    """Every cloud SDK module that ``source`` imports or ``require``s."""
    uses: list[Use] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and _is_require(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names = [first.value]
        for name in names:
            if sdk_owner(name) is not None:
                uses.append(Use(module, node.lineno, name))
                break
    return uses


def _is_require(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id in {"require", "import_module"}) or (
        isinstance(func, ast.Attribute) and func.attr in {"require", "import_module"}
    )


def violations(module: str, source: str) -> list[str]:
    """What is wrong with ``module``'s cloud SDK imports: one line per stray import."""
    owner = owner_of(module)
    out = []
    for use in sdk_uses(module, source):
        sdk = sdk_owner(use.sdk_module)
        assert sdk is not None
        if owner is None:
            out.append(f"{module}:{use.line} imports {use.sdk_module} but no provider declares {module}")
        elif owner is not sdk:
            out.append(f"{module}:{use.line} is {owner.name}'s and imports {sdk.name}'s {use.sdk_module}")
    return out


def test_cloud_sdks_are_imported_only_in_their_providers_modules() -> None:
    found = {m: path for m, path in modules().items() if m not in KNOWN}
    assert "escher.clouds.aws" in found and "escher.scans.cost" in found and "escher.cli.main" in found
    bad = [v for m, path in found.items() for v in violations(m, path.read_text())]
    assert bad == [], "a cloud SDK imported outside its provider's modules:\n" + "\n".join(bad)


def test_known_debts_still_exist() -> None:
    # an entry for a module that no longer imports an SDK stray is stale: remove it
    found = modules()
    stale = [m for m in KNOWN if m not in found or not violations(m, found[m].read_text())]
    assert stale == []


STRAY = """
import os
from escher.lazy import require


def client():
    import boto3
    return boto3.client("s3")
"""


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # a generic module importing boto3 in a function body (the lazy form still counts)
        ("escher.pipeline.objects", STRAY, "no provider declares escher.pipeline.objects"),
        # require("...") counts like an import
        ("escher.doctor", 'require("google.auth", "gcp")', "imports google.auth but no provider"),
        ("escher.watch.feeds", "from azure.core.rest import HttpRequest", "imports azure.core.rest"),
        # an AWS module importing Google's SDK
        ("escher.clouds.aws.ops.s3", "from google.cloud import storage", "is aws's and imports gcp's"),
        ("escher.clouds.gcp.state", "import botocore.exceptions", "is gcp's and imports aws's"),
    ],
)
def test_the_check_catches_a_stray_import(module: str, source: str, expected: str) -> None:
    found = violations(module, source)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("escher.clouds.aws", "import boto3"),
        ("escher.clouds.azure.ops.sql", 'require("azure.mgmt.sql", "azure")'),
        ("escher.workers.gcp.main", "from google.cloud import pubsub_v1"),
        # protobuf is used by generic libraries too: not Google Cloud's SDK
        ("escher.pipeline.objects", "from google.protobuf import json_format"),
        ("escher.pipeline.objects", 'require("starlette", "console")'),
    ],
)
def test_the_check_accepts_a_providers_own_import(module: str, source: str) -> None:
    assert violations(module, source) == []


def test_the_cloud_literal_the_registry_key_and_the_providers_agree() -> None:
    assert set(get_args(Cloud)) == set(PROVIDERS) == set(CLOUDS)
    for cloud in CLOUDS:
        assert KEY_PATTERN.match(f"{cloud}.service.name")
    assert not KEY_PATTERN.match("oracle.service.name")


def test_each_provider_names_its_parts_and_they_exist() -> None:
    for p in PROVIDERS.values():
        assert p.extra in {"aws", "azure", "gcp"} and p.sdk and p.state_schemes
        for role in ("session", "regions", "state_backend", "secrets_backend", "cost_source", "watch"):
            assert p.load(role) is not None, (p.name, role)
        assert p.sdk_module().__name__ == f"escher.clouds.{p.name}"
        assert p.regions()
    assert provider("aws").owns("escher.clouds.aws.collect") and not provider("aws").owns("escher.scans.cost")


def test_a_state_url_finds_its_providers_backend() -> None:
    from escher.clouds import state_provider
    from escher.clouds.gcp.state import GcsStore

    owners = {s: getattr(state_provider(s), "name", None) for s in ("s3", "gs", "gcs", "az", "ftp")}
    assert owners == {"s3": "aws", "gs": "gcp", "gcs": "gcp", "az": "azure", "ftp": None}
    assert provider("gcp").load("state_backend") is GcsStore
    for p in PROVIDERS.values():
        assert p.state_example.split("://")[0] in p.state_schemes


def test_an_unknown_cloud_is_refused_with_the_known_ones() -> None:
    from escher.clouds import UnknownCloudError

    with pytest.raises(UnknownCloudError) as err:
        provider("oracle")
    assert "aws, azure or gcp" in (err.value.hint or "")
    with pytest.raises(Exception, match="no 'nothing'"):
        provider("aws").load("nothing")


def test_every_module_a_provider_names_exists() -> None:
    # an exact name that matches no module is a typo or a module that moved (a pattern such as
    # "escher.ops.aws_*" names a family and may match nothing yet)
    found = set(modules())
    for p in PROVIDERS.values():
        for name in p.modules:
            if not any(ch in name for ch in "*?["):
                assert name in found, (p.name, name)


def test_each_provider_builds_its_cost_source_from_the_settings() -> None:
    from escher.config import Settings
    from escher.scans.errors import CloudAccessError

    settings = Settings.model_validate(
        {"azure": {"subscription_id": "sub-1"}, "gcp": {"billing_export_table": "proj.billing.export"}}
    )
    built = {p.name: p.cost_source(settings) for p in PROVIDERS.values()}
    assert {name: source.cloud for name, source in built.items()} == {c: c for c in CLOUDS}
    assert built["azure"].subscription_id == "sub-1" and built["gcp"].project == "proj"
    # a cloud whose billing is not configured says what to set
    with pytest.raises(CloudAccessError, match="billing export table"):
        provider("gcp").cost_source(Settings())


def test_the_workers_secret_reader_is_its_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    from escher.clouds.aws.secrets import SsmSecretReader
    from escher.clouds.azure.secrets import KeyVaultSecretReader
    from escher.extend.secrets import reader_for

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    ssm = reader_for("aws", {"ESCHER_CREDENTIALS_PATH": "/escher/credentials/"})
    assert isinstance(ssm, SsmSecretReader) and ssm.path == "/escher/credentials"
    vault = reader_for("azure", {"ESCHER_KEY_VAULT": "kv-escher"}, name_prefix="esc")
    assert isinstance(vault, KeyVaultSecretReader) and vault.prefix == "esc"
    # nothing configured for the worker's cloud, or no such cloud: no reader
    assert (
        reader_for("aws", {}) is None and reader_for("gcp", {}) is None and reader_for("oracle", {}) is None
    )
