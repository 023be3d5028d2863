"""Worker cold start: importing each worker module, and the first and a warm invocation of the AWS handler.

    python -m bench.bench_workers [--runs 5]

Each figure comes from a fresh interpreter (a cold start is a new process), median of ``--runs``. Targets (issue
6): import <= 0.15 s (Cloud Custodian's handler + S3 resource import takes 0.53 s). The first invocation pays for
powertools' Logger, Metrics and parser, the pipeline's wiring and the first normalizer lookup; it uses in-memory
state and a fix that waits for approval, so no cloud call is timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_IMPORT = 0.15
MODULES = [
    "escher.workers.aws.handler",
    "escher.workers.gcp.main",
    "escher.workers.azure.handlers",
    "escher.workers.azure.function_app",  # the host's entry: includes azure.functions itself
]

_IMPORT = """
import time, sys
t = time.perf_counter()
import {module}
print(time.perf_counter() - t)
"""

_INVOKE = """
import json, time, sys
t0 = time.perf_counter()
from escher.workers.aws.handler import handler
t1 = time.perf_counter()
from escher.demo.events import bucket_made_public
from escher.demo.run import LambdaContext

first = handler(bucket_made_public("bench-1", "bench-bucket"), LambdaContext())
t2 = time.perf_counter()
warm = handler(bucket_made_public("bench-2", "bench-bucket"), LambdaContext())
t3 = time.perf_counter()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "aws_xray_sdk"))
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "warm": t3 - t2, "outcome": first["outcome"],
                  "loaded": heavy[:3], "xray": "aws_xray_sdk" in sys.modules}))
"""


def _run(code: str, env: dict[str, str] | None = None) -> str:
    import os

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return out.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv if argv is not None else [])
    figures: dict[str, float] = {}
    baseline = statistics.median(float(_run(_IMPORT.format(module="json"))) for _ in range(args.runs))
    print(f"{'module':<40} {'cold import':>12}")
    for module in MODULES:
        seconds = statistics.median(float(_run(_IMPORT.format(module=module))) for _ in range(args.runs))
        figures[module] = seconds
        verdict = (
            "" if module.endswith("function_app") else ("ok" if seconds <= TARGET_IMPORT else "OVER TARGET")
        )
        print(f"{module:<40} {seconds * 1000:>9.1f} ms  {verdict}")
    print(
        f"(interpreter baseline, import json: {baseline * 1000:.1f} ms; target <= {TARGET_IMPORT * 1000:.0f} ms)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "config.toml").write_text('[notify.routes]\nHIGH = ["banner"]\n', encoding="utf-8")
        env = {
            "ESCHER_CONFIG_DIR": tmp,
            "ESCHER_DATA_DIR": tmp,
            "ESCHER_STATE_URL": "memory://",
            "ESCHER_DEAD_LETTER_URL": "memory://",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        runs = [json.loads(_run(_INVOKE, env)) for _ in range(args.runs)]
    for key in ("import", "first", "warm"):
        figures[f"aws_{key}"] = statistics.median(r[key] for r in runs)
    print(
        f"AWS handler: cold import {figures['aws_import'] * 1000:.1f} ms, first invocation "
        f"{figures['aws_first'] * 1000:.1f} ms (powertools Logger/Metrics/parser, pipeline wiring), "
        f"warm invocation {figures['aws_warm'] * 1000:.1f} ms; outcome {runs[0]['outcome']}; "
        f"X-Ray SDK loaded: {runs[0]['xray']}"
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
