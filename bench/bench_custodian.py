"""`make bench`'s entry for bench/custodian_compare.py: Escher against Cloud Custodian on the four-check moto
estate (loopback and +30 ms per request), then the daily scan at 30 ms at 200 and 2,000 resources per type."""

from __future__ import annotations


def main() -> None:
    from bench.custodian_compare import main as compare

    compare([])
