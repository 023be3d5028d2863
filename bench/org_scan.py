"""An organization scan at real-cloud latency: wall time of `escher scan --all-accounts` over 20 member
accounts vs the same scan of one account (issue 19 goal: <= 2x), on moto behind a proxy that adds a round
trip to every request (default 30 ms, as a real API answers a laptop). Prints figures; asserts nothing.

    .venv/bin/python -m bench.org_scan [--accounts 20] [--delay-ms 30] [--at-once 4]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=30.0)
    parser.add_argument("--at-once", type=int, default=4, help="accounts read at once (ScanOptions)")
    args = parser.parse_args()

    from escher.config import Settings
    from escher.emulators import MotoEmulator
    from escher.scans.runner import ScanOptions, run_scan
    from tests.functional.orgs.org_estate import DenyingProxy, seed_org

    with MotoEmulator() as moto:
        os.environ.update(moto.env())
        t0 = time.perf_counter()
        org = seed_org(args.accounts)
        seeded = time.perf_counter() - t0
        members = sorted(org.members)
        with DenyingProxy(moto.port, set(), delay=args.delay_ms / 1000) as proxy:
            os.environ["AWS_ENDPOINT_URL"] = proxy.url
            runs = {}
            for label, accounts in (("1 account", members[:1]), (f"{len(members)} accounts", members)):
                options = ScanOptions(
                    regions=["us-east-1"], max_attempts=1, accounts=accounts, accounts_at_once=args.at_once
                )
                t0 = time.perf_counter()
                result = run_scan(Settings(), options)
                wall = time.perf_counter() - t0
                public = {f.account for f in result.failed if f.check_id == "aws.s3.bucket_public"}
                runs[label] = wall
                print(
                    f"{label:>12}: {wall:7.1f} s, {len(result.inventory.records):,} resources, "
                    f"public buckets in {len(public)} accounts, {len(result.inventory.errors)} parts not read",
                    flush=True,
                )
    one, many = runs["1 account"], runs[f"{len(members)} accounts"]
    print(
        f"seeded {len(members)} member accounts in {seeded:.1f} s; round trip {args.delay_ms:.0f} ms; "
        f"{args.at_once} accounts at once; {len(members)} accounts / 1 account = {many / one:.2f}x (goal <= 2x)"
    )


if __name__ == "__main__":
    main()
