"""CLI start-up: `escher --help` and `--version` (target: median <= 0.15 s here), and `import escher`.

For scale: Cloud Custodian's `custodian --help` takes ~0.5 s and Prowler's ~3.6 s on a laptop.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15
ESCHER = str(Path(sys.executable).parent / "escher")


def _median_seconds(argv: list[str]) -> tuple[float, float]:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), max(samples)


def main() -> None:
    for label, argv in [
        ("escher --help", [ESCHER, "--help"]),
        ("escher --version", [ESCHER, "--version"]),
        ("python -c 'import escher'", [sys.executable, "-c", "import escher"]),
        ("python -c 'pass' (interpreter floor)", [sys.executable, "-c", "pass"]),
    ]:
        median, worst = _median_seconds(argv)
        print(f"{label:42s} median {median * 1000:6.1f} ms   max {worst * 1000:6.1f} ms   ({RUNS} runs)")


if __name__ == "__main__":
    main()
