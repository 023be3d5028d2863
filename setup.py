"""Package discovery for the fixed top level (see pyproject.toml).

setuptools cannot `find` packages under a package-dir map that renames folders, so the list is computed here
from the folders themselves: every directory with an ``__init__.py`` becomes a package, and nothing is missed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOTS = {
    "escher": "shared",
    "escher.cli": "cli",
    "escher.workers": "workers",
    "escher.infra": "infra",
    "escher.brain": "brain",
}

# The console's JS, vendored from npm (package.json pins the versions; the Makefile copies the same files after
# `npm install`): package path inside escher -> the file in node_modules.
VENDORED = {
    "console/static/vendor/htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
    "console/static/vendor/chart.umd.min.js": "node_modules/chart.js/dist/chart.umd.min.js",
}


def discover() -> list[str]:
    here = Path(__file__).parent
    found: list[str] = []
    for name, folder in ROOTS.items():
        base = here / folder
        for init in sorted(base.rglob("__init__.py")):
            rel = init.parent.relative_to(base)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            found.append(".".join([name, *rel.parts]))
    return found


def vendored_in_tree() -> list[str]:
    """Copy the console's JS from node_modules into the tree when npm installed it; return the copies the tree has
    (none without npm: an sdist that already carries them keeps its own, and the console works without them)."""
    here = Path(__file__).parent
    present: list[str] = []
    for inside, npm_file in VENDORED.items():
        source, in_tree = here / npm_file, here / ROOTS["escher"] / inside
        if source.is_file():
            in_tree.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, in_tree)
        if in_tree.is_file():
            present.append(inside)
    return present


class BuildWithVendored(build_py):  # type: ignore[misc]  # setuptools is untyped here
    """build_py that also puts the vendored JS into the wheel (an editable install serves the tree's copies)."""

    def run(self) -> None:
        super().run()
        for inside in vendored_in_tree():
            if not self.editable_mode:
                target = Path(self.build_lib, "escher", inside)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(__file__).parent / ROOTS["escher"] / inside, target)


class SdistWithVendored(sdist):  # type: ignore[misc]
    """An sdist carries the vendored JS, so a wheel built from it (``python -m build``) has it too."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        for inside in vendored_in_tree():
            target = Path(base_dir, ROOTS["escher"], inside)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(__file__).parent / ROOTS["escher"] / inside, target)


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import discover() alone
    setup(packages=discover(), cmdclass={"build_py": BuildWithVendored, "sdist": SdistWithVendored})
