"""The registries' per-cloud module index, and that no registry folder holds an entry module nobody lists.

The index: an ``aws.*`` lookup imports the AWS entry modules (and those of no one cloud), not Azure's or
Google's. Completeness: importing every module of a registry's folder after the registry has loaded its list
adds no entry (an entry module missing from the list would, and its entries would be invisible to lookups).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from escher.registry import KEY_PATTERN, Registry, UnknownEntryError, cloud_of_module
from tests.unit.test_packaging import REPO

CLOUDS_DIR = REPO / "shared" / "clouds"


def _folders(sub: str) -> list[tuple[str, Path]]:
    """(package, folder) of each cloud package's ``sub`` folder (``""``: the cloud package itself)."""
    return [
        (".".join(("escher.clouds", d.name, sub)).rstrip("."), d / sub)
        for d in sorted(CLOUDS_DIR.iterdir())
        if (d / "__init__.py").exists()
    ]


# registry (module:attribute) -> the packages its entry modules may live in, with their folders: every module
# there is imported and must add no entry the registry had not loaded from its providers' lists
REGISTRIES: dict[str, list[tuple[str, Path]]] = {
    "escher.ops.model:OPERATIONS": [("escher.ops", REPO / "shared" / "ops"), *_folders("ops")],
    "escher.scans.checks.base:CHECKS": [
        ("escher.scans.checks", REPO / "shared" / "scans" / "checks"),
        *_folders("checks"),
    ],
    "escher.events._base:NORMALIZERS": [("escher.events", REPO / "shared" / "events"), *_folders("")],
}


def run(code: str) -> object:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], check=True, capture_output=True, text=True, cwd=REPO
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def entry_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package ``regidx_<n>`` with one entry module per cloud and one of no cloud, each registering into
    ``regidx_<n>.REG`` and noting its import in ``regidx_<n>.LOADED``."""
    name = f"regidx_{tmp_path.name.replace('-', '_')}"
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("LOADED: list[str] = []\n")
    for mod, key in [
        ("aws_things", "aws.s3.thing"),
        ("azure", "azure.storage.thing"),
        ("gcp_things", "gcp.storage.thing"),
        ("common", "any.generic.thing"),
        ("gcp_more", "aws.s3.filed_under_gcp"),  # an entry whose module is named for another cloud
    ]:
        (pkg / f"{mod}.py").write_text(
            f"from {name} import LOADED\nfrom {name}.reg import REG\nLOADED.append({mod!r})\n"
            f"REG.add({key!r}, {mod!r})\n"
        )
    (pkg / "reg.py").write_text(
        "from escher.registry import Registry\n"
        f"REG = Registry('check', modules=[{', '.join(repr(f'{name}.{m}') for m in ('aws_things', 'azure', 'gcp_things', 'common', 'gcp_more'))}])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_a_module_is_indexed_under_the_cloud_it_is_named_for() -> None:
    assert cloud_of_module("escher.clouds.aws.ops.ec2") == "aws"
    assert cloud_of_module("escher.clouds.azure.checks.resources") == "azure"
    assert cloud_of_module("escher.clouds.gcp.events") == "gcp"
    assert cloud_of_module("escher.events.activity") == "any"
    assert cloud_of_module("escher.ops.awsome") == "any"  # a prefix of a name is not a cloud


def test_a_lookup_loads_only_its_clouds_modules(entry_modules: str) -> None:
    import importlib

    loaded = importlib.import_module(entry_modules).LOADED
    reg = importlib.import_module(f"{entry_modules}.reg").REG
    # GIVEN a flat list of five entry modules WHEN an AWS entry is looked up
    assert reg.get("aws.s3.thing") == "aws_things"
    # THEN only the AWS module and the one of no cloud were imported
    assert sorted(loaded) == ["aws_things", "common"]
    assert reg.keys("aws.") == ["aws.s3.thing"]  # the index is per name: gcp_more is not loaded yet
    assert sorted(loaded) == ["aws_things", "common"]
    # an entry filed under another cloud's module is still found: the registry looks everywhere before "no"
    assert reg.get("aws.s3.filed_under_gcp") == "gcp_more"
    assert sorted(loaded) == ["aws_things", "azure", "common", "gcp_more", "gcp_things"]
    with pytest.raises(UnknownEntryError):
        reg.get("aws.s3.nothing")


def test_a_registry_takes_modules_by_cloud(entry_modules: str) -> None:
    import importlib

    loaded = importlib.import_module(entry_modules).LOADED
    reg: Registry[str] = Registry(
        "check",
        modules={"gcp": [f"{entry_modules}.gcp_things"], "aws": [f"{entry_modules}.aws_things"]},
    )
    assert reg.modules == {"gcp": (f"{entry_modules}.gcp_things",), "aws": (f"{entry_modules}.aws_things",)}
    reg.keys("gcp.")  # (the entry modules register into their own registry: what matters is what is imported)
    assert loaded == ["gcp_things"]
    with pytest.raises(ValueError, match="oracle"):
        Registry("check", modules={"oracle": ["x"]})


def test_the_key_pattern_takes_each_providers_name() -> None:
    from escher.clouds import CLOUDS

    assert all(KEY_PATTERN.match(f"{c}.svc.name") for c in (*CLOUDS, "any"))


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
@pytest.mark.parametrize("ref", sorted(REGISTRIES))
def test_a_lookup_in_a_real_registry_imports_no_other_clouds_module(ref: str, cloud: str) -> None:
    module, attribute = ref.split(":")
    others = tuple(f"escher.clouds.{c}" for c in ("aws", "azure", "gcp") if c != cloud)
    found = run(
        f"""
        import importlib, json, sys
        reg = getattr(importlib.import_module({module!r}), {attribute!r})
        keys = reg.keys("{cloud}.")
        others = sorted(m for m in sys.modules if m.startswith({others!r}))
        print(json.dumps([len(keys), others]))
        """
    )
    assert isinstance(found, list)
    count, others = found
    assert count > 0 and others == []


def unlisted_entry_modules(ref: str, names: list[str], path: str = "") -> object:
    """Entry modules among ``names`` that add entries to the registry ``ref`` once it has loaded its list."""
    module, attribute = ref.split(":")
    return run(
        f"""
        import importlib, json, sys
        sys.path.insert(0, {path!r}) if {path!r} else None
        reg = getattr(importlib.import_module({module!r}), {attribute!r})
        before = set(reg.keys())
        unlisted = {{}}
        for name in {names!r}:
            importlib.import_module(name)
            added = sorted(set(reg._entries) - before)
            if added:
                unlisted[name] = added[:3]
                before |= set(added)
        print(json.dumps(unlisted))
        """
    )


@pytest.mark.parametrize("ref", sorted(REGISTRIES))
def test_every_entry_module_in_a_registry_folder_is_listed(ref: str) -> None:
    names = sorted(
        f"{package}.{p.stem}"
        for package, folder in REGISTRIES[ref]
        for p in folder.glob("*.py")
        if p.stem != "__init__"
    )
    assert any(".clouds." in n for n in names)  # the cloud packages are searched
    unlisted = unlisted_entry_modules(ref, names)
    assert unlisted == {}, f"entry modules missing from {ref}'s module list: {unlisted}"


def test_the_completeness_check_can_fail(tmp_path: Path) -> None:
    # GIVEN a registry that lists aws_a but not aws_b, which registers an entry too
    pkg = tmp_path / "regcomplete"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "reg.py").write_text(
        "from escher.registry import Registry\nREG = Registry('check', modules=['regcomplete.aws_a'])\n"
    )
    for mod in ("aws_a", "aws_b"):
        (pkg / f"{mod}.py").write_text(f"from regcomplete.reg import REG\nREG.add('aws.x.{mod}', 1)\n")
    # THEN the check names aws_b and its entry
    names = ["regcomplete.aws_a", "regcomplete.aws_b", "regcomplete.reg"]
    assert unlisted_entry_modules("regcomplete.reg:REG", names, str(tmp_path)) == {
        "regcomplete.aws_b": ["aws.x.aws_b"]
    }
