"""A cloud is one package, ``escher.clouds.<cloud>``, plus its entry in ``PROVIDERS``: nothing else names it.

Read as source (nothing imported), over shared/, cli/, workers/ and brain/ (infra/'s Pulumi programs are the
exception the issue grants):

- no module outside a cloud's package and its provider's declared ``modules`` (the worker) is named for a cloud
  (``aws``, ``aws_*``, ``azure*``, ``gcp*``, as a module or a folder);
- no module imports from two different cloud packages at module level (a cloud's own module importing another
  cloud's counts): loading one cloud must not load another;
- every reference a provider lists points into its own package or modules, the exceptions named with why.

And the proof that the registration is all there is to it: a throwaway fourth cloud ("oci": a package with a
scan, a check module and an operation module, written to ``tmp_path``) is registered in a copy of
``escher/clouds/provider.py`` (one more ``Provider`` and its name in the ``Cloud`` literal, nothing else) and,
in a subprocess, the check and operation registries, the key pattern, ``CLOUDS``, the scan's dispatch and
``escher scan --list-checks`` all take it. Any hard-coded cloud list on those paths makes it fail.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from escher.clouds import CLOUDS, PROVIDERS, owner_of
from tests.unit.test_packaging import REPO
from tests.unit.test_provider_boundaries import modules

# Modules named for a cloud that are not its provider's, each with why. Shrink this, never grow it.
NAMED_FOR_A_CLOUD: dict[str, str] = {
    "escher.emulators.aws": "moto in a process of its own for the demo and the tests: a local tool, no cloud code",
    "escher.emulators.azure": "azurite for the demo and the tests: a local tool, no cloud code",
    "escher.emulators.gcp": "fake GCS and the Pub/Sub emulator for the demo and the tests: a local tool",
}

# Provider references that point outside the provider's package, each with why (by module prefix).
REF_EXCEPTIONS: dict[str, str] = {
    "escher.infra.": "the Pulumi programs live in infra/, the one place built with Pulumi's own SDKs (issue 19)",
}


def named_cloud(module: str) -> str | None:
    """The cloud a dotted module's name (any part after ``escher``) is named for, if any."""
    for part in module.split(".")[1:]:
        for cloud in CLOUDS:
            if part == cloud or part.startswith(cloud + "_") or (cloud != "aws" and part.startswith(cloud)):
                return cloud
    return None


def misnamed(names: list[str]) -> list[str]:
    return [
        f"{m} is named for {named_cloud(m)} but is not in escher.clouds.{named_cloud(m)} nor its provider's modules"
        for m in names
        if named_cloud(m) and owner_of(m) is None and m not in NAMED_FOR_A_CLOUD
    ]


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: the top level, and inside top-level ``if``/``try``
    (``if TYPE_CHECKING:`` never runs)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _type_checking(node.test):
                yield from module_level_imports(node.body)
            yield from module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from module_level_imports(block)


def cloud_package(imported: str) -> str | None:
    """The cloud whose package ``imported`` is in (``escher.clouds.aws.checks`` -> aws)."""
    parts = imported.split(".")
    if parts[:2] == ["escher", "clouds"] and len(parts) > 2 and parts[2] in PROVIDERS:
        return parts[2]
    return None


def clouds_loaded_at_import(module: str, source: str) -> set[str]:
    """The cloud packages importing ``module`` loads directly: its own and those it imports at module level."""
    found = {cloud_package(module)} - {None}
    own = owner_of(module)
    if own is not None:
        found.add(own.name)
    for node in module_level_imports(ast.parse(source).body):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.level == 0 and node.module:
            # ``from escher.clouds import aws`` imports escher.clouds.aws
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {c for c in map(cloud_package, names) if c}
    return {c for c in found if c}


def mixed(module: str, source: str) -> str | None:
    clouds = clouds_loaded_at_import(module, source)
    return f"{module} loads {', '.join(sorted(clouds))} at import" if len(clouds) > 1 else None


def stray_refs() -> list[str]:
    out = []
    for p in PROVIDERS.values():
        for role, ref in sorted(p.refs.items()):
            target = ref.partition(":")[0]
            if p.owns(target) or any(target.startswith(prefix) for prefix in REF_EXCEPTIONS):
                continue
            out.append(f"{p.name}.{role} -> {ref} is outside escher.clouds.{p.name}")
    return out


# -- the tree as it is --------------------------------------------------------------------------------------
def test_no_module_outside_a_cloud_package_is_named_for_a_cloud() -> None:
    names = sorted(modules())
    assert "escher.clouds.aws.feed" in names and "escher.workers.aws" in names  # the tree was read
    assert misnamed(names) == []


def test_the_named_exceptions_are_still_there() -> None:
    found = modules()
    assert [m for m in NAMED_FOR_A_CLOUD if m not in found] == []


def test_no_module_loads_two_clouds_at_import() -> None:
    found = [mixed(m, path.read_text()) for m, path in modules().items()]
    assert [m for m in found if m] == []


def test_every_provider_reference_points_into_its_own_package() -> None:
    assert stray_refs() == []
    for p in PROVIDERS.values():  # and each one exists (infra's need Pulumi: only its module is looked for)
        for role, ref in p.refs.items():
            target = ref.partition(":")[0]
            if not target.startswith(tuple(REF_EXCEPTIONS)):
                assert p.load(role) is not None, (p.name, role)


# -- the checks can fail --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("module", "bad"),
    [
        ("escher.ops.aws_ec2", True),
        ("escher.state.azure_blob", True),
        ("escher.scans.collect.gcp", True),
        ("escher.watch.awsfeed", False),  # aws: the name or aws_*
        ("escher.gcpx.something", True),  # a folder counts
        ("escher.clouds.gcp.feed", False),
        ("escher.workers.azure", False),  # the provider declares its worker
        ("escher.scans.cost", False),
    ],
)
def test_the_name_check_catches_a_misnamed_module(module: str, bad: bool) -> None:
    assert bool(misnamed([module])) is bad


@pytest.mark.parametrize(
    ("module", "source", "bad"),
    [
        ("escher.clouds.azure.checks.resources", "from escher.clouds.aws.checks.compute import WORLD", True),
        ("escher.watch.runner", "from escher.clouds import aws, gcp", True),
        ("escher.watch.runner", "import escher.clouds.aws\nimport escher.clouds.azure.feed", True),
        (
            "escher.doctor",
            "try:\n    from escher.clouds import aws\nexcept ImportError:\n    pass\n"
            "from escher.clouds.gcp import REGIONS",
            True,
        ),
        (
            "escher.watch.runner",
            "from escher.clouds import aws\ndef f():\n    from escher.clouds import gcp\n",
            False,
        ),
        (
            "escher.watch.runner",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from escher.clouds import aws, gcp\n",
            False,
        ),
        (
            "escher.clouds.gcp.feed",
            "from escher.clouds import provider, CLOUDS\nfrom escher.clouds.gcp import x",
            False,
        ),
    ],
)
def test_the_import_check_catches_two_clouds_at_import(module: str, source: str, bad: bool) -> None:
    assert bool(mixed(module, source)) is bad


def test_the_reference_check_catches_a_stray_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    aws = PROVIDERS["aws"]
    monkeypatch.setitem(aws.refs, "watch", "escher.watch.feeds:ActivityFeed")
    assert stray_refs() == ["aws.watch -> escher.watch.feeds:ActivityFeed is outside escher.clouds.aws"]


# -- a fourth cloud is one package plus its registration --------------------------------------------------------
OCI_INIT = '''
"""A throwaway fourth cloud's client module: its SDK's errors and how they read."""
REGIONS = ("eu-frankfurt-1", "us-ashburn-1")


class OciError(Exception):
    pass


def errors():
    return (OciError,)


def translate(exc):
    return None


def is_not_found(exc):
    return False
'''

OCI_SCAN = """
from escher.scans.model import Inventory, Record


def scan(settings, options, progress, ctx=None):
    accounts = options.accounts.get("oci") or ["tenancy-1"]
    inventory = Inventory()
    for account in accounts:
        for name, access in (("open", "ObjectRead"), ("closed", "NoPublicAccess")):
            inventory.records.append(Record(cloud="oci", type="oci.storage.bucket", id=f"{account}/{name}",
                                            region="eu-frankfurt-1", account=account, name=name,
                                            attrs={"public_access": access}))
        inventory.covered.append(("oci", "storage", "eu-frankfurt-1"))
    return inventory


def check_regions(settings, options):
    from escher.clouds.oci import REGIONS
    from escher.scans.errors import ScanError

    bad = [r for r in options.regions or () if r not in REGIONS]
    if bad:
        raise ScanError(f"{bad[0]!r} is not an OCI region", hint="use an OCI region")


def all_accounts(settings, ctx=None):
    return ["tenancy-1", "tenancy-2"]
"""

OCI_CHECK = """
from escher.scans.checks.base import Fail, check
from escher.scans.model import Severity


@check("oci.storage.bucket_public", resource="oci.storage.bucket", title="OCI bucket is public",
       severity=Severity.CRITICAL, risk="Anyone reads its objects.", remediation="Set NoPublicAccess.",
       reads=("public_access",), fix="oci.storage.make_private")
def bucket_public(rec, ctx):
    access = rec.attrs.get("public_access")
    return None if access == "NoPublicAccess" else Fail(f"public access is {access}")
"""

OCI_OP = """
from escher.ops.model import Risk, operation

operation(
    id="oci.storage.make_private",
    description="Set a bucket's public access to NoPublicAccess.",
    risk=Risk.medium,
    permissions=("BUCKET_UPDATE",),
    cli="oci os bucket update --name {target} --public-access-type NoPublicAccess",
    fetch=lambda call: {"public_access": "ObjectRead"},
    wanted=lambda call, state: {"public_access": "NoPublicAccess"},
    apply=lambda call, state: None,
)
"""

OCI_PROVIDER = """
        Provider(
            name="oci",
            title="Oracle Cloud",
            extra="oci",
            sdk=("oci",),
            sdk_title="OCI SDK",
            sdk_settings="~/.oci/config",
            account_kind="tenancy",
            account_word="tenancy",
            region_kind="region",
            modules=(),
            checks=("storage",),
            operations=("storage",),
            refs={
                "regions": "escher.clouds.oci:REGIONS",
                "scan": "escher.clouds.oci.scan:scan",
                "scan_regions": "escher.clouds.oci.scan:check_regions",
                "all_accounts": "escher.clouds.oci.scan:all_accounts",
            },
        ),
"""

# what the subprocess does, with the copy of provider.py in place of the real one and the package on the path
PROBE = """
import importlib.util, json, sys

spec = importlib.util.spec_from_file_location("escher.clouds.provider", {provider!r})
registration = importlib.util.module_from_spec(spec)
sys.modules["escher.clouds.provider"] = registration
spec.loader.exec_module(registration)
import escher.clouds
escher.clouds.__path__.append({packages!r})  # where the new package lives: beside the others, in effect

from escher.clouds import CLOUDS, provider
from escher.registry import KEY_PATTERN
from escher.scans.checks.base import CHECKS
from escher.ops.model import OPERATIONS
from escher.config import Settings
from escher.scans.engine import select_checks
from escher.scans.runner import ScanOptions, all_accounts, run_scan

out = {{"clouds": list(CLOUDS), "key": bool(KEY_PATTERN.match("oci.storage.bucket_public"))}}
out["check_modules"] = list(CHECKS.modules.get("oci", ()))
out["op_modules"] = list(OPERATIONS.modules.get("oci", ()))
check = CHECKS.get("oci.storage.bucket_public")
out["check"] = [check.cloud, check.fix_operation]
out["others_loaded"] = sorted(m for m in sys.modules if m.startswith(("escher.clouds.aws.", "escher.clouds.azure.",
                                                                       "escher.clouds.gcp.")))
out["op"] = OPERATIONS.get("oci.storage.make_private").cloud
out["selected"] = [c.id for c in select_checks(None, ["oci"])]
result = run_scan(Settings(), ScanOptions(clouds=["oci"]))
out["failed"] = sorted((f.check_id, f.account, f.resource_id) for f in result.failed)
out["accounts"] = all_accounts("oci", Settings())
result = run_scan(Settings(), ScanOptions(clouds=["oci"], accounts={{"oci": all_accounts("oci", Settings())}}))
out["failed_by_account"] = sorted((f.account, f.resource_id) for f in result.failed)
try:
    run_scan(Settings(), ScanOptions(clouds=["oci"], regions=["eu-frankfurt-9"]))
except Exception as exc:
    out["bad_region"] = str(exc)
out["provider"] = provider("oci").title
# a cloud with no section in the config is simply not enabled (nothing reads a missing [oci])
from escher.clouds.provider import enabled_clouds
from escher.scans.cost import billing_clouds
out["enabled"] = enabled_clouds(Settings())
out["billing"] = billing_clouds(Settings())
from typer.testing import CliRunner
from escher.cli.main import app
listed = CliRunner().invoke(app, ["scan", "--cloud", "oci", "--list-checks", "-o", "json"])
out["cli"] = [listed.exit_code, "oci.storage.bucket_public" in listed.output, listed.output[-300:]]
print(json.dumps(out))
"""


def register_fourth_cloud(tmp_path: Path) -> tuple[Path, Path]:
    """The package (``tmp_path/clouds/oci``) and a copy of provider.py with its registration."""
    package = tmp_path / "clouds" / "oci"
    for folder, files in {
        package: {"__init__.py": OCI_INIT, "scan.py": OCI_SCAN},
        package / "checks": {"__init__.py": "", "storage.py": OCI_CHECK},
        package / "ops": {"__init__.py": "", "storage.py": OCI_OP},
    }.items():
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(textwrap.dedent(text))
    source = (REPO / "shared" / "clouds" / "provider.py").read_text()
    literal = 'Cloud = Literal["aws", "azure", "gcp"]'
    end = "    )\n}\n"  # the end of the PROVIDERS tuple
    assert source.count(literal) == 1 and source.count(end) == 1, "provider.py's registration moved: update"
    source = source.replace(literal, 'Cloud = Literal["aws", "azure", "gcp", "oci"]')
    source = source.replace(end, OCI_PROVIDER.lstrip("\n") + end)
    copy = tmp_path / "provider.py"
    copy.write_text(source)
    return tmp_path / "clouds", copy


def probe(tmp_path: Path, env_home: Path) -> dict[str, object]:
    packages, copy = register_fourth_cloud(tmp_path)
    code = PROBE.format(provider=str(copy), packages=str(packages))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(env_home), "ESCHER_HOME": str(env_home), "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    found: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def test_a_fourth_cloud_is_one_package_plus_its_registration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    found = probe(tmp_path / "oci", home)
    assert found["clouds"] == [*CLOUDS, "oci"] and found["key"] is True
    # the registries index the new cloud's entry modules from its registration, and a lookup loads only them
    assert found["check_modules"] == ["escher.clouds.oci.checks.storage"]
    assert found["op_modules"] == ["escher.clouds.oci.ops.storage"]
    assert found["check"] == ["oci", "oci.storage.make_private"] and found["op"] == "oci"
    assert found["others_loaded"] == []
    assert found["selected"] == ["oci.storage.bucket_public"]
    # the scan reaches it through its provider: its records, its checks, its accounts, its region names
    assert found["failed"] == [["oci.storage.bucket_public", "tenancy-1", "tenancy-1/open"]]
    assert found["accounts"] == ["tenancy-1", "tenancy-2"]
    assert found["failed_by_account"] == [["tenancy-1", "tenancy-1/open"], ["tenancy-2", "tenancy-2/open"]]
    assert "not an OCI region" in str(found["bad_region"])
    assert found["provider"] == "Oracle Cloud"
    assert found["enabled"] == list(CLOUDS) and found["billing"] == ["aws"]
    exit_code, listed, tail = found["cli"]  # type: ignore[misc]
    assert exit_code == 0 and listed, tail
