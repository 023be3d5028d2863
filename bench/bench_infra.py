"""`escher extend CLOUD --plan` offline (Pulumi mocks, in-process): wall time per cloud, target <= 2 s.

Each run is a fresh interpreter, as a user would see it (imports of pulumi and the provider included).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 3
ESCHER = str(Path(sys.executable).parent / "escher")


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ESCHER_DATA_DIR": f"{home}/data", "ESCHER_CONFIG_DIR": f"{home}/cfg",
               "ESCHER_GCP__PROJECT": "bench-project"}  # fmt: skip
        for cloud in ("aws", "azure", "gcp"):
            samples, plan = [], {}
            for _ in range(RUNS):
                start = time.perf_counter()
                out = subprocess.run(
                    [ESCHER, "--output", "json", "extend", cloud, "--plan"],
                    check=True, capture_output=True, text=True, env=env,
                )  # fmt: skip
                samples.append(time.perf_counter() - start)
                plan = json.loads(out.stdout)
            print(
                f"escher extend {cloud} --plan   median {statistics.median(samples):5.2f} s   "
                f"max {max(samples):5.2f} s   {len(plan['resources'])} resources   "
                f"{len(plan['permissions'])} permissions   idle ≈ ${plan['monthly_usd']:.2f}/month"
            )


if __name__ == "__main__":
    main()
