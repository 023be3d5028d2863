"""The worker bundle: reproducible bytes, the right layout per cloud, cached by input, size limits."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from escher.infra.bundle import LIMITS, Bundle, BundleError, build_bundle, check_limits, worker_requirements

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def fake_deps(tmp_path: Path) -> Path:
    deps = tmp_path / "deps"
    (deps / "fakedep").mkdir(parents=True)
    (deps / "fakedep" / "__init__.py").write_text("VALUE = 1\n")
    (deps / "fakedep" / "__pycache__").mkdir()
    (deps / "fakedep" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"junk")
    (deps / "bin").mkdir()
    (deps / "bin" / "tool").write_text("#!/bin/sh\n")
    return deps


def test_same_inputs_give_the_same_bytes_in_fresh_caches(tmp_path: Path, fake_deps: Path) -> None:
    a = build_bundle("aws", source_root=REPO, cache_dir=tmp_path / "c1", deps_dir=fake_deps, requirements=[])
    # touch every dependency file: timestamps must not matter
    for f in fake_deps.rglob("*"):
        if f.is_file():
            f.touch()
    b = build_bundle("aws", source_root=REPO, cache_dir=tmp_path / "c2", deps_dir=fake_deps, requirements=[])
    assert a.sha256 == b.sha256 and a.path.read_bytes() == b.path.read_bytes()
    assert not a.cached and not b.cached
    with zipfile.ZipFile(a.path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert "fakedep/__init__.py" in names and "escher/__init__.py" in names
    assert "escher/workers/__init__.py" in names and "escher/workers/aws/handler.py" in names
    assert not [
        n for n in names if n.startswith(("escher/cli/", "escher/workers/azure/", "escher/workers/gcp/"))
    ]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("bin/")]
    assert not [n for n in names if n.startswith("escher/infra")]  # the worker does not need pulumi code


def test_a_changed_input_changes_the_hash_and_a_rebuild_hits_the_cache(
    tmp_path: Path, fake_deps: Path
) -> None:
    first = build_bundle("aws", source_root=REPO, cache_dir=tmp_path, deps_dir=fake_deps, requirements=[])
    again = build_bundle("aws", source_root=REPO, cache_dir=tmp_path, deps_dir=fake_deps, requirements=[])
    assert again.cached and again.sha256 == first.sha256
    (fake_deps / "fakedep" / "__init__.py").write_text("VALUE = 2\n")
    changed = build_bundle("aws", source_root=REPO, cache_dir=tmp_path, deps_dir=fake_deps, requirements=[])
    assert changed.sha256 != first.sha256 and not changed.cached


def test_layouts_per_cloud(tmp_path: Path, fake_deps: Path) -> None:
    azure = build_bundle("azure", source_root=REPO, cache_dir=tmp_path, deps_dir=fake_deps, requirements=[])
    with zipfile.ZipFile(azure.path) as zf:
        names = set(zf.namelist())
        assert {"function_app.py", "host.json"} <= names
        assert ".python_packages/lib/site-packages/escher/__init__.py" in names
        assert ".python_packages/lib/site-packages/fakedep/__init__.py" in names
        assert b"escher.workers.azure.function_app" in zf.read("function_app.py")
    gcp = build_bundle("gcp", source_root=REPO, cache_dir=tmp_path, requirements=["pydantic>=2.7"])
    with zipfile.ZipFile(gcp.path) as zf:
        names = set(zf.namelist())
        assert {"main.py", "requirements.txt", "escher/__init__.py"} <= names
        assert zf.read("requirements.txt") == b"pydantic>=2.7\n"
        assert not [n for n in names if n.startswith("fakedep")]


@pytest.mark.parametrize(
    ("cloud", "own", "runtime"),
    [("aws", "boto3", "aws-lambda-powertools"), ("azure", "azure-identity", "azure-functions"),
     ("gcp", "google-cloud-storage", "functions-framework")],
)  # fmt: skip
def test_worker_requirements_are_the_core_this_clouds_sdk_and_its_runtime_only(
    cloud: str, own: str, runtime: str
) -> None:
    reqs = worker_requirements(cloud, REPO)
    assert any(r.startswith("pydantic") for r in reqs)
    assert any(r.startswith(own) for r in reqs) and any(r.startswith(runtime) for r in reqs)
    others = {"boto3", "azure-", "google-", "aws-lambda-powertools", "functions-framework"} - {own, runtime}
    others -= {"azure-"} if cloud == "azure" else set()
    others -= {"google-"} if cloud == "gcp" else set()
    assert not [r for r in reqs if r.startswith(tuple(others))], reqs
    assert not [r for r in reqs if r.startswith("pulumi")]


def test_size_limits_say_which_rule_applies(tmp_path: Path) -> None:
    big = Bundle("gcp", tmp_path / "x.zip", "0", 120 * 1024 * 1024, 100, 1, False, LIMITS["gcp"])
    with pytest.raises(BundleError) as err:
        check_limits(big)
    assert "100 MB" in err.value.message and "source upload" in (err.value.hint or "")
    # over 50 MB zipped is fine on AWS: the component uploads it through the state bucket
    check_limits(Bundle("aws", tmp_path / "x.zip", "0", 60 * 1024 * 1024, 100, 1, False, LIMITS["aws"]))
    wide = Bundle("aws", tmp_path / "x.zip", "0", 1, 300 * 1024 * 1024, 1, False, LIMITS["aws"])
    with pytest.raises(BundleError, match="250 MB"):
        check_limits(wide)
    check_limits(Bundle("aws", tmp_path / "x.zip", "0", 1024, 4096, 1, False, LIMITS["aws"]))


def test_not_a_source_tree_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not an escher source tree"):
        build_bundle(
            "aws", source_root=tmp_path, cache_dir=tmp_path / "c", deps_dir=tmp_path, requirements=[]
        )
