"""Package discovery for the fixed top level (see pyproject.toml).

setuptools cannot `find` packages under a package-dir map that renames folders, so the list is computed here
from the folders themselves: every directory with an ``__init__.py`` becomes a package, and nothing is missed.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup

ROOTS = {
    "escher": "shared",
    "escher.cli": "cli",
    "escher.workers": "workers",
    "escher.infra": "infra",
    "escher.brain": "brain",
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


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import discover() alone
    setup(packages=discover())
