"""Throughput of normalize + enrich + classify on a mixed corpus of the sample payloads (one core).

    python -m bench.bench_events [--seconds 3]

Prints events/second for parsed dicts (what a worker holds after its framework decoded the body) and for raw
bytes (JSON parsing included). The target in issue 3 is >= 50,000 events/s for normalize + classify.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "unit" / "events" / "samples"
TARGET = 50_000


def corpus() -> list[bytes]:
    return [p.read_bytes() for p in sorted(SAMPLES.glob("*/*.json")) if not p.name.endswith(".expected.json")]


def _rate(fn: Callable[[Any], Any], items: list[Any], seconds: float) -> float:
    # CPU time of this process, not wall time: the figure is per core even on a shared, busy machine.
    done, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        for item in items:
            fn(item)
        done += len(items)
    return done / elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    from escher.events import enrich, normalize
    from escher.rules import RuleSet

    parser = argparse.ArgumentParser(description="normalize + classify throughput on the sample corpus")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per figure")
    seconds = parser.parse_args(argv if argv is not None else []).seconds
    raw = corpus()
    dicts = [json.loads(b) for b in raw]
    rules = RuleSet()
    received = datetime(2024, 5, 2, tzinfo=UTC)

    def normalize_classify(payload: Any) -> Any:
        return rules.apply(normalize(payload, received_at=received))

    def full(payload: Any) -> Any:
        return rules.apply(enrich(normalize(payload, received_at=received)).event)

    for item in dicts:  # warm up: registry load, first-call caches
        full(item)
    figures = {
        "normalize (dict)": _rate(lambda p: normalize(p, received_at=received), dicts, seconds),
        "normalize + classify (dict)": _rate(normalize_classify, dicts, seconds),
        "normalize + enrich + classify (dict)": _rate(full, dicts, seconds),
        "normalize + classify (bytes, JSON parse included)": _rate(normalize_classify, raw, seconds),
    }
    print(f"corpus: {len(raw)} sample payloads (aws, azure, gcp), {seconds:.0f} CPU-s per figure, one core")
    for name, rate in figures.items():
        print(f"  {name:52} {rate:>10,.0f} events/s")
    verdict = "meets" if figures["normalize + classify (dict)"] >= TARGET else "is below"
    print(f"normalize + classify {verdict} the {TARGET:,} events/s target")
    return figures


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
