"""Each cloud's deploy is found through its provider, and the generic infra code names no cloud.

The deploy descriptions (``escher.infra.deploy_<cloud>``) hold what differs between clouds; everything else in
``escher.infra`` (the driver, bundle, export, preflight, credentials, spec, program ...) reads them through
``provider(cloud).load("deploy")``. The AST test fails on an ``if cloud == "aws"`` style branch, or a list or
dict of cloud names, anywhere in infra/ except the deploy descriptions and the per-cloud Pulumi programs.
"""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from pathlib import Path

import pytest

from escher.clouds import CLOUDS, PROVIDERS
from escher.config import Settings
from escher.infra.deploy import BundleLayout, CloudDeploy, deploy_of, deployable
from escher.infra.program import InfraError
from escher.infra.spec import ExtensionSpec, spec_from_settings

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"


def _spec(cloud: str, **extra: object) -> ExtensionSpec:
    return ExtensionSpec(cloud=cloud, region="r-1", bundle_path="/tmp/w.zip", permissions=(), **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_provider_registers_a_complete_deploy_description(cloud: str) -> None:
    # GIVEN the provider registry
    provider = PROVIDERS[cloud]
    # WHEN its deploy reference is loaded
    deploy = provider.load("deploy")
    # THEN it is this cloud's CloudDeploy, with every field set to something of the right kind
    assert isinstance(deploy, CloudDeploy) and deploy is deploy_of(cloud)
    assert deploy.cloud == cloud
    for f in dataclasses.fields(CloudDeploy):
        value = getattr(deploy, f.name)
        assert value is not None or f.name == "post_deploy", f"{cloud}: {f.name} is not set"
        if f.name.startswith(("regions", "stack_config", "state_store", "credential_writer", "preflight")):
            assert callable(value), f"{cloud}: {f.name} is not callable"
    assert deploy.retained and deploy.default_lock_mode in ("governance", "compliance")
    assert deploy.default_region in provider.regions()
    assert isinstance(deploy.bundle, BundleLayout) and deploy.bundle.limit.unzipped_mb > 0


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_stack_config_names_the_region_the_way_the_provider_does(cloud: str) -> None:
    config = deploy_of(cloud).stack_config(_spec(cloud, gcp_project="p-1"))
    assert config[f"{cloud}:{PROVIDERS[cloud].region_kind}"] == "r-1"
    assert all(key.startswith(f"{cloud}:") for key in config)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_bundle_layout_names_requirements_pyproject_has(cloud: str) -> None:
    # a renamed runtime library or SDK package would silently drop out of the worker bundle
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    layout = deploy_of(cloud).bundle
    assert any(r.startswith(layout.runtime) for r in extras["workers"])
    for prefix in layout.scan_packages:
        assert any(r.startswith(prefix) for r in extras[cloud]), f"{cloud}: no {prefix}* in the {cloud} extra"


def test_what_differs_is_what_each_cloud_says() -> None:
    outputs = {"audit_bucket": "escher-audit-1"}
    assert deploy_of("aws").audit_location(outputs) == "s3://escher-audit-1"
    assert deploy_of("gcp").audit_location(outputs) == "escher-audit-1"
    assert deploy_of("gcp").stack_config(_spec("gcp", gcp_project="p-1"))["gcp:project"] == "p-1"
    assert "gcp:project" not in deploy_of("gcp").stack_config(_spec("gcp"))
    assert deploy_of("azure").prepare(_spec("azure"), {"azure_triggers_synced": True}).azure_triggers_synced
    assert not deploy_of("aws").prepare(_spec("aws"), {"azure_triggers_synced": True}).azure_triggers_synced
    assert [c for c in CLOUDS if deploy_of(c).post_deploy is not None] == ["azure"]
    assert [c for c in CLOUDS if not deploy_of(c).bundle.vendored] == ["gcp"]


def test_the_spec_reads_the_settings_each_cloud_names() -> None:
    settings = Settings.model_validate(
        {"aws": {"regions": ["eu-west-1", "eu-central-1"]}, "azure": {"locations": ["westeurope"]},
         "gcp": {"regions": ["europe-west1"], "project": "p-1"}}
    )  # fmt: skip
    aws = spec_from_settings("aws", bundle_path="w.zip", settings=settings)
    azure = spec_from_settings("azure", bundle_path="w.zip", settings=settings)
    gcp = spec_from_settings("gcp", bundle_path="w.zip", settings=settings)
    assert (aws.region, aws.regions) == ("eu-west-1", ("eu-west-1", "eu-central-1"))
    assert (azure.region, azure.regions) == ("westeurope", ())
    assert (gcp.region, gcp.regions, gcp.lock_mode, aws.lock_mode) == (
        "europe-west1",
        (),
        "compliance",
        "governance",
    )


def test_an_unknown_cloud_says_which_there_are() -> None:
    with pytest.raises(InfraError) as err:
        deploy_of("oracle")
    assert err.value.hint == f"use one of {', '.join(CLOUDS)}"


# -- no cloud named in the generic infra code --------------------------------------------------------------
NAMES = frozenset(CLOUDS)
# per-cloud by design: the deploy descriptions, the Pulumi programs and their parts (their own package)
PER_CLOUD = ("deploy_*.py", *(f"{c}*.py" for c in CLOUDS))
# named here with why, until their owners move them behind the registry
KNOWN = {
    "permissions.py": "_FALLBACK_DEFAULTS: each cloud's default operations when the catalogue has none",
}


def _is_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in NAMES


def cloud_branches(source: str) -> list[str]:
    """Where ``source`` compares with a cloud's name, matches on one, or spells out a list or map of clouds."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            flat = [
                e
                for o in operands
                for e in (o.elts if isinstance(o, ast.Tuple | ast.List | ast.Set) else [o])
            ]
            if any(_is_name(o) for o in flat):
                found.append(f"line {node.lineno}: compares with a cloud's name")
        elif isinstance(node, ast.MatchValue) and _is_name(node.value):
            found.append(f"line {node.lineno}: matches a cloud's name")
        elif isinstance(node, ast.Dict) and sum(_is_name(k) for k in node.keys if k is not None) >= 2:
            found.append(f"line {node.lineno}: a map keyed by cloud names")
        elif isinstance(node, ast.Tuple | ast.List | ast.Set) and sum(map(_is_name, node.elts)) >= 2:
            found.append(f"line {node.lineno}: a list of cloud names")
    return found


def test_the_detector_sees_each_kind_of_cloud_branch() -> None:
    # the AST test below is only as good as this: each shape is caught, ordinary uses of a name are not
    assert len(cloud_branches('if cloud == "azure": pass')) == 1
    assert len(cloud_branches('x = "a" if "gcp" != c else "b"')) == 1
    assert len(cloud_branches('ok = cloud in ("aws", "gcp")')) == 2  # the comparison, and the list
    assert len(cloud_branches('match c:\n    case "aws": pass')) == 1
    assert len(cloud_branches('L = {"aws": 1, "azure": 2}')) == 1
    assert cloud_branches('require("azure.core", "azure"); Report("aws"); c = f"{cloud}:region"') == []


def _generic_modules() -> list[Path]:
    return sorted(p for p in INFRA.glob("*.py") if not any(p.match(pattern) for pattern in PER_CLOUD))


def test_generic_infra_code_has_no_cloud_branch() -> None:
    modules = _generic_modules()
    assert {"driver.py", "bundle.py", "export.py", "preflight.py", "credentials.py", "spec.py"} <= {
        p.name for p in modules
    }
    problems = {
        p.name: found
        for p in modules
        if p.name not in KNOWN and (found := cloud_branches(p.read_text(encoding="utf-8")))
    }
    assert problems == {}, "name no cloud here: put what differs in the cloud's deploy_<cloud>.py"
    for name in KNOWN:  # an entry that no longer applies goes
        assert cloud_branches((INFRA / name).read_text(encoding="utf-8")), (
            f"{name} is clean: drop it from KNOWN"
        )


def test_a_cloud_without_a_deploy_description_is_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # a new cloud can be scanned before it can be extended: infra still imports, and says which can be
    monkeypatch.delitem(PROVIDERS["gcp"].refs, "deploy")
    assert deployable() == ("aws", "azure")
    with pytest.raises(InfraError) as err:
        deploy_of("gcp")
    assert "cannot be deployed on Google Cloud yet" in err.value.message
    assert err.value.hint == "extend one of aws, azure"


def test_each_clouds_plan_shape_names_only_its_own_resource_types() -> None:
    # --plan's prices, worker function and data source answers come from the cloud whose program runs
    packages = {}
    for cloud in CLOUDS:
        shape = deploy_of(cloud).plan
        worker = shape.worker_function[0]
        tokens = [*shape.prices, worker, *shape.calls, *shape.labels_are_settings]
        packages[cloud] = {t.partition(":")[0] for t in tokens}
        assert len(packages[cloud]) == 1, f"{cloud}: {sorted(packages[cloud])}"
        assert worker in shape.prices and shape.calls
    assert len({p for found in packages.values() for p in found}) == len(CLOUDS)
