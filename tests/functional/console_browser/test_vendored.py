"""htmx and Chart.js come from npm (package.json pins them, package-lock.json holds their hashes) and are copied
into the package by make and setup.py's build: the copies are there, are the pinned versions, and are the
files npm installed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VENDOR = REPO / "shared" / "console" / "static" / "vendor"
FILES = {  # the copy -> (npm package, the file in it, how the file names its version)
    "htmx.min.js": ("htmx.org", "dist/htmx.min.js", r'version:\s*"([0-9][^"]*)"'),
    "chart.umd.min.js": ("chart.js", "dist/chart.umd.min.js", r"Chart\.js v([0-9][^\s*]*)"),
}


def _pinned(package: str) -> str:
    manifest = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    pinned = manifest["devDependencies"][package]
    assert lock["packages"][""]["devDependencies"][package] == pinned, "package-lock.json is out of date"
    assert lock["packages"][f"node_modules/{package}"]["version"] == pinned
    return str(pinned)


@pytest.mark.parametrize("name", sorted(FILES))
def test_vendored_copy_is_the_pinned_npm_file(name: str) -> None:
    package, inside, version_pattern = FILES[name]
    copy = VENDOR / name
    assert copy.is_file(), f"{copy} is missing: run 'make emulators' (npm install, then the copy)"
    text = copy.read_text(encoding="utf-8")
    found = re.search(version_pattern, text)
    assert found is not None and found.group(1) == _pinned(package), (name, found and found.group(1))
    installed = REPO / "node_modules" / package / inside
    if installed.is_file():  # a clone where npm ran: the copy is exactly what npm installed
        assert installed.read_bytes() == copy.read_bytes(), f"{name} differs from node_modules: run make"


def test_htmx_is_the_stable_2_line() -> None:
    # 4.x is a new major with another API; the console's attributes are htmx 2's
    assert _pinned("htmx.org").split(".")[0] == "2"
    assert _pinned("chart.js").split(".")[0] == "4"


def test_makefile_and_setup_copy_the_same_files() -> None:
    import sys

    sys.path.insert(0, str(REPO))
    try:
        import setup  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(REPO))
    assert {Path(k).name: v for k, v in setup.VENDORED.items()} == {
        name: f"node_modules/{package}/{inside}" for name, (package, inside, _) in FILES.items()
    }
    makefile = (REPO / "Makefile").read_text()
    for name, (package, inside, _) in FILES.items():
        assert f"cp node_modules/{package}/{inside} $@" in makefile and f"$(VENDOR)/{name}" in makefile


@pytest.mark.slow
def test_a_built_wheel_carries_the_vendored_files(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    # WHEN a wheel is built from the tree (where npm ran, as after make)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("escher-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        # THEN the console's pages find their scripts in the installed package
        for name in FILES:
            inside = f"escher/console/static/vendor/{name}"
            assert inside in names
            assert zf.read(inside) == (VENDOR / name).read_bytes()
