"""What a registry's first lookup imports: one ``aws.*`` lookup against loading every cloud's entry modules.

Prints, asserts nothing. Each case runs in a fresh interpreter (median of 5), so the import cost is the first
lookup's alone. Run: .venv/bin/python -m bench registry
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

REGISTRIES = {
    "operations": ("escher.ops.model", "OPERATIONS"),
    "checks": ("escher.scans.checks.base", "CHECKS"),
    "normalizers": ("escher.events._base", "NORMALIZERS"),
}

CODE = """
import importlib, json, sys, time
reg = getattr(importlib.import_module({module!r}), {attribute!r})
before = set(sys.modules)
start = time.perf_counter()
{lookup}
took = time.perf_counter() - start
print(json.dumps([took, len(set(sys.modules) - before)]))
"""


def measure(module: str, attribute: str, lookup: str) -> tuple[float, int]:
    runs = []
    for _ in range(5):
        code = CODE.format(module=module, attribute=attribute, lookup=lookup)
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout))
    return statistics.median(r[0] for r in runs), int(statistics.median(r[1] for r in runs))


def main() -> None:
    print(f"{'registry':<12} {'first lookup':<22} {'ms':>7} {'modules imported':>17}")
    for name, (module, attribute) in REGISTRIES.items():
        for label, lookup in (("aws.* only", "reg.keys('aws.')"), ("every cloud", "reg.keys()")):
            took, modules = measure(module, attribute, lookup)
            print(f"{name:<12} {label:<22} {took * 1000:>7.1f} {modules:>17}")


if __name__ == "__main__":
    main()
