"""An organization scan at real-cloud latency: wall time of `escher scan --all-accounts` over 20 member
accounts vs the same scan of one account (issue 19 goal: <= 2x), on moto behind a proxy that adds a round
trip to every request (default 30 ms, as a real API answers a laptop). Prints figures; asserts nothing.

    .venv/bin/python -m bench.org_scan [--accounts 20] [--delay-ms 30] [--profile]

"The cloud" (moto and the proxy) runs in a child process, as AWS runs elsewhere: in-process, moto's own
request handling took the GIL from the scan. moto also builds an account's backends (EC2's AMI catalogue, the
default VPC, ...) the first time that account is touched, which AWS never does, so the 20 accounts are read
once before the timed runs; that cold pass is printed too. Even warm, moto's CPU is the limit on a shared
machine (hundreds of requests through one Python process), so the figure held to the goal is the one where
the proxy replays what moto answered in the passes before (per account, method, path and body), after the
same round trip: a cloud that keeps up, as AWS does for 20 accounts; the moto figures are printed as well. ``--profile`` prints the slowest tasks (start and
duration) and the per-account wall times of the timed 20-account run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from typing import Any


def _cloud(conn: Any, delay: float) -> None:
    """The child process: moto and the 30 ms proxy in front of it, until the parent closes the pipe. The
    parent sends "replay" to have the proxy answer what it has already seen from its recording."""
    from escher.emulators import MotoEmulator
    from tests.functional.orgs.org_estate import ReplayingProxy

    with MotoEmulator() as moto, ReplayingProxy(moto.port, set(), delay=delay) as proxy:
        conn.send((moto.env(), proxy.url))
        try:
            while True:
                proxy.replaying = conn.recv() == "replay"
                conn.send(proxy.replayed)
        except EOFError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=30.0)
    parser.add_argument("--profile", action="store_true", help="per-task and per-account timings")
    args = parser.parse_args()

    from escher.config import Settings
    from escher.scans.runner import ScanOptions, run_scan
    from tests.functional.orgs.org_estate import seed_org

    here, there = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(target=_cloud, args=(there, args.delay_ms / 1000))
    child.start()
    env, proxy_url = here.recv()
    try:
        os.environ.update(env)
        t0 = time.perf_counter()
        org = seed_org(args.accounts)  # straight to moto: no added round trip
        seeded = time.perf_counter() - t0
        members = sorted(org.members)
        os.environ["AWS_ENDPOINT_URL"] = proxy_url
        timings: list[tuple[str, float, float]] = []

        def scan(accounts: list[str], label: str, *, profile: bool = False) -> float:
            options = ScanOptions(regions=["us-east-1"], max_attempts=1, accounts={"aws": accounts})
            if profile:
                _instrument(timings)
            t0 = time.perf_counter()
            result = run_scan(Settings(), options)
            wall = time.perf_counter() - t0
            public = {f.account for f in result.failed if f.check_id == "aws.s3.bucket_public"}
            print(
                f"{label:>28}: {wall:6.2f} s, {len(result.inventory.records):,} resources, "
                f"public buckets in {len(public)} accounts, {len(result.inventory.errors)} parts not read",
                flush=True,
            )
            for e in result.inventory.errors:
                print(f"    not read: {e.service} {e.region}: {e.code} {e.message[:100]}")
            return wall

        many = f"{len(members)} accounts"
        print("moto answers every request (its CPU is the limit: it is one process on a shared machine):")
        scan(members, f"{many} (cold moto)")
        moto_one = scan(members[:1], "1 account")
        moto_many = scan(members, many)
        print("answers replayed from the pass above, each after the round trip (a cloud that keeps up):")
        here.send("replay")
        here.recv()
        one = scan(members[:1], "1 account")
        wall = scan(members, many, profile=args.profile)
        here.send("replay")
        replayed = here.recv()
    finally:
        here.close()
        child.join(timeout=30)
    print(
        f"seeded {len(members)} member accounts in {seeded:.1f} s; round trip {args.delay_ms:.0f} ms; "
        f"{replayed:,} answers replayed; {len(members)} accounts / 1 account = {wall / one:.2f}x replayed "
        f"(goal <= 2x), {moto_many / moto_one:.2f}x on moto"
    )
    if args.profile:
        _report(timings)


def _instrument(timings: list[tuple[str, float, float]]) -> None:
    """Time every task of the next scan: (label, start, duration) into ``timings``."""
    import escher.clouds.aws.collect as collect

    start = time.perf_counter()
    original = collect.AwsCollector.tasks

    def tasks(self: Any) -> list[Any]:
        from escher.scans.collect.base import Task

        def timed(task: Any) -> Any:
            def run() -> Any:
                t0 = time.perf_counter()
                try:
                    return task.run()
                finally:
                    timings.append((f"{task.label} {self.account}", t0 - start, time.perf_counter() - t0))

            return Task(task.cloud, task.service, task.region, run, task.produces)

        return [timed(t) for t in original(self)]

    collect.AwsCollector.tasks = tasks  # type: ignore[method-assign]


def _report(timings: list[tuple[str, float, float]]) -> None:
    from collections import defaultdict

    print("slowest tasks (start s, duration s):")
    for label, start, took in sorted(timings, key=lambda t: -t[2])[:10]:
        print(f"  {label:<48} {start:6.2f} {took:6.2f}")
    spans: dict[str, list[float]] = defaultdict(list)
    for label, start, took in timings:
        spans[label.rsplit(" ", 1)[-1]] += [start, start + took]
    ends = sorted((max(v) - min(v), a) for a, v in spans.items())
    print(f"per account, first task start to last task end: {ends[0][0]:.2f} s .. {ends[-1][0]:.2f} s")


if __name__ == "__main__":
    main()
