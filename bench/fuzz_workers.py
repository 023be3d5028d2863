"""Fuzz every worker with malformed deliveries at its real entry point; print what became of them.

    python -m bench.fuzz_workers [--count 100000] [--seed 0] [aws azure gcp]     (or: make fuzz)

The deliveries are ``tests/unit/workers/fuzzing.py``'s, the checks ``fuzz_run.py``'s (the suite runs a few thousand):
each one is poison on purpose (nesting 65-5,000 deep, integers of 1,001-6,000 digits, lone surrogates, NaN, bytes,
over 1 MiB, wrong types, bodies that are not JSON or not UTF-8, no envelope), state is in memory, fixes are
pre-approved and any cloud client asked for is counted as an action. Expected: exceptions 0, actions 0, every
delivery dead-lettered with a reason, every letter writable. Not named ``bench_*``: ``make bench`` skips it (it
takes minutes). The time is the workers' alone (generating the deliveries is not counted).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workers", nargs="*", default=["aws", "azure", "gcp"])
    parser.add_argument("--count", type=int, default=100_000, help="deliveries per worker")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.unit.workers import fuzz_run

    failed = False
    for worker in args.workers:
        with tempfile.TemporaryDirectory() as tmp, fuzz_run.environment(Path(tmp)):
            figures = fuzz_run.run(worker, args.count, seed=args.seed)
        print(figures.line(), flush=True)
        entries = Counter(k.split("/")[0] for k in figures.kinds.elements())
        print(f"       entry points: {dict(entries)}; letters: {dict(figures.encodings)}")
        print("       most frequent reasons:")
        for reason, n in figures.reasons.most_common(6):
            print(f"         {n:>7,}  {reason}")
        for problem in [*figures.exceptions[:5], *figures.not_parked[:5], *figures.unwritable[:5]]:
            print(f"       PROBLEM {problem}")
        failed |= bool(figures.exceptions or figures.not_parked or figures.unwritable or figures.actions)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
