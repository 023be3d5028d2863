"""Scan and report speed: `escher scan` wall time on a seeded moto estate (200 and 2,000 resources per type)
and morning-report generation for a 100,000-resource estate (target <= 2 s). Prints figures; asserts nothing.

    .venv/bin/python -m bench.bench_scan
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta


def bench_moto_scan(n: int) -> tuple[float, float, int, int, str]:
    from escher.config import Settings
    from escher.emulators import MotoEmulator
    from escher.scans.runner import ScanOptions, run_scan
    from tests.functional.scans.estate import seed

    with MotoEmulator() as moto:
        os.environ.update(moto.env())
        moto.reset()  # moto keeps its state per process: start each size from an empty account
        t0 = time.perf_counter()
        truth = seed(n)
        seeded = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run_scan(Settings(), ScanOptions(regions=["us-east-1"], max_attempts=1))
        wall = time.perf_counter() - t0
    idle = {f.resource_id for f in result.failed if f.check_id == "aws.ec2.instance_idle"}
    verdict = "idle findings = truth"
    if idle != truth.idle_instances:  # say how, and what was not read, instead of stopping
        verdict = f"IDLE MISMATCH: {len(truth.idle_instances - idle)} missing, {len(idle - truth.idle_instances)} extra"
    not_read = [f"{e.service} {e.region}: {e.code}" for e in result.inventory.errors]
    if not_read:
        verdict += "; not read: " + "; ".join(not_read)
    return seeded, wall, len(result.inventory.records), len(result.failed), verdict


def bench_report(n: int) -> tuple[float, float, float, int]:
    from escher.config import Settings
    from escher.report.builder import build_report
    from escher.report.render import render
    from escher.scans.runner import ScanOptions, run_scan
    from escher.scans.synthetic import cost_snapshot, estate

    now = datetime.now(UTC)
    inv, prev_inv = estate(n, now=now), estate(int(n * 0.98), now=now)
    t0 = time.perf_counter()
    scan = run_scan(Settings(), ScanOptions(), inventory=inv)
    checks = time.perf_counter() - t0
    previous = run_scan(Settings(), ScanOptions(), inventory=prev_inv)
    t0 = time.perf_counter()
    rep = build_report(scan, previous=previous, costs=[cost_snapshot(date.today() - timedelta(days=1))])
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    render(rep, "html")
    html = time.perf_counter() - t0
    return checks, build, html, len(rep.findings)


def main(sizes: tuple[int, ...] = (200, 2000)) -> None:
    for n in sizes:
        seeded, wall, records, fails, verdict = bench_moto_scan(n)
        print(
            f"moto scan, {n:>5} per type: {wall:6.2f} s wall ({records:,} records, {fails:,} findings; "
            f"seeding {seeded:.1f} s; {verdict})",
            flush=True,
        )
    checks, build, html, fails = bench_report(100_000)
    print(
        f"report, 100,000 resources: checks {checks:.2f} s + build {build:.2f} s = {checks + build:.2f} s "
        f"(HTML render {html:.2f} s; {fails:,} findings)"
    )


if __name__ == "__main__":
    main()
