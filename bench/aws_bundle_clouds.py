"""The AWS worker bundle's size with the other clouds' scanning SDKs (issue 16, item 3): prints, asserts nothing.

Dependencies are the packages installed in this interpreter (escher.infra.bundle.installed_deps: this machine's
Python and platform); a deploy takes manylinux CPython 3.12 wheels from pip, of about the same size. The limit is
Lambda's 250 MB unzipped (code + layers). Run: .venv/bin/python bench/aws_bundle_clouds.py [--zip]
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from escher.infra.bundle import LIMITS, MB, BundleError, build_bundle, installed_deps, worker_requirements

REPO = Path(__file__).resolve().parents[1]


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def main() -> None:
    zipped = "--zip" in sys.argv
    cache = REPO / "build" / "bench-bundles"
    print(f"limit: {LIMITS['aws'].rule}")
    for extra in ((), ("azure",), ("gcp",), ("azure", "gcp")):
        reqs = worker_requirements("aws", REPO, extra)
        key = hashlib.sha256("\n".join([sys.version, *reqs]).encode()).hexdigest()[:16]
        deps = installed_deps(reqs, cache / f"deps-aws-{key}")
        escher = tree_bytes(REPO / "shared") + tree_bytes(REPO / "workers" / "aws")
        label = "aws + " + (" + ".join(extra) or "nothing else")
        line = f"{label:<26} deps {tree_bytes(deps) / MB:7.1f} MB  escher ~{escher / MB:5.1f} MB"
        if zipped:
            try:
                b = build_bundle("aws", source_root=REPO, cache_dir=cache, deps_dir=deps, requirements=reqs)
                line += (
                    f"  bundle {b.zipped_bytes / MB:.1f} MB zipped / {b.unzipped_bytes / MB:.1f} MB unzipped"
                )
            except BundleError as exc:  # over the limit: printed, this is a measurement
                line += f"  {exc.message}"
        print(line)


if __name__ == "__main__":
    main()
