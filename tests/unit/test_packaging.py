"""The fixed folders map into one ``escher`` namespace, in the editable install and in the built wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = {
    "escher": "shared",
    "escher.cli": "cli",
    "escher.workers": "workers",
    "escher.infra": "infra",
    "escher.brain": "brain",
}


def folder_packages() -> set[str]:
    """Every folder holding Python code, as the package name it must have in the wheel."""
    found = set()
    for name, folder in ROOTS.items():
        base = REPO / folder
        for py in base.rglob("*.py"):
            rel = py.parent.relative_to(base)
            if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            found.add(".".join([name, *rel.parts]))
    return found


def test_every_code_folder_is_a_package() -> None:
    # GIVEN every folder with .py files under the fixed top level
    missing = sorted(
        p
        for p in folder_packages()
        if not (
            REPO / ROOTS[_root(p)] / Path(*p.split(".")[len(_root(p).split(".")) :]) / "__init__.py"
        ).exists()
    )
    # THEN each has an __init__.py, or setup.py would leave it out of the wheel
    assert missing == [], f"folders without __init__.py (left out of the wheel): {missing}"


def _root(package: str) -> str:
    return max((r for r in ROOTS if package == r or package.startswith(r + ".")), key=len)


def test_setup_discovers_every_folder() -> None:
    sys.path.insert(0, str(REPO))
    try:
        import setup  # type: ignore[import-not-found]
    except SystemExit:  # pragma: no cover - setup() must not run on import
        pytest.fail("setup.py runs setup() on import")
    finally:
        sys.path.remove(str(REPO))
    assert set(setup.discover()) == folder_packages()


@pytest.mark.slow
def test_built_wheel_contains_every_package(tmp_path: Path) -> None:
    # WHEN a wheel is built from the tree
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("escher-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    in_wheel = {str(Path(n).parent).replace("/", ".") for n in names if n.endswith("/__init__.py")}
    # THEN it holds exactly the packages the folders define, with the console script
    assert folder_packages() - in_wheel == set()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        assert "escher = escher.cli.main:run" in zf.read(entry_points).decode()


def test_editable_install_maps_the_folders() -> None:
    import escher
    import escher.brain
    import escher.cli
    import escher.infra
    import escher.workers

    assert Path(escher.__file__).parent == REPO / "shared"
    for module, folder in [
        (escher.cli, "cli"),
        (escher.workers, "workers"),
        (escher.infra, "infra"),
        (escher.brain, "brain"),
    ]:
        assert Path(module.__file__ or "").parent == REPO / folder
