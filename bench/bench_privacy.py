"""The credential scan's cost per megabyte: ``escher.secret_scan`` on text, and the brain's whole request path
(parse, depth check, scan of every string and field name, validation) on request bodies.

    python -m bench privacy

Figures are printed, not asserted: median of 5 runs, wall time and this process's CPU time (the machine may be
shared; CPU time is what the scan costs). The issue's target is 50 ms per MB; the old patterns were quadratic
(27.8 s for one 240 KB tag).
"""

from __future__ import annotations

import json
import random
import statistics
import string
import time
from collections.abc import Callable
from typing import Any

RUNS = 5
MB = 1_000_000


def _measure(fn: Callable[[], Any]) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(RUNS):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def _texts() -> dict[str, str]:
    rng = random.Random(14)
    words = ["running", "stopped", "us-east-1", "i-0abc1234def567890", "web-1", "checkout", "autoscaling",
             "2025-03-03T02:00:00Z", "arn:aws:iam::123456789012:role/ops", "cost-centre", "ERROR", "retry"]  # fmt: skip
    log = " ".join(rng.choice(words) for _ in range(120_000))[:MB]
    b64 = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(MB))
    return {
        "log lines (words, ids, ARNs)": log,
        "base64 blob": b64,
        "one letter (old: quadratic)": "a" * MB,
        "dotted (old: quadratic)": "a." * (MB // 2),
        "url-like, no password": "a://b:c" * (MB // 7),
        "dense `api_key=` assignments (worst case)": "api_key=abcdef1 " * (MB // 16),
    }


def _request_body(n_items: int) -> bytes:
    item: dict[str, Any] = {
        "kind": "resource", "cloud": "aws", "region": "us-east-1", "resource_type": "aws.ec2.instance",
        "state": "running", "tags": {"env": "dev", "owner": "person-0001@redacted.invalid", "team": "checkout",
                                     "cost-center": "cc-1234", "Name": "web-frontend"},
        "attrs": {"instance_type": "t3.large", "cpu_avg_30d": 3.0, "vpc_id": "vpc-0abc", "subnet_id": "subnet-0d"},
        "text": "Security group sg-0123 allows 0.0.0.0/0 on port 22; changed by arn:aws:iam::123456789012:role/"
                "person-0002 via RunInstances in account 123456789012; autoscaling idle since Friday.",
    }  # fmt: skip
    ctx = [{**item, "id": f"i-0{i:016x}", "name": f"web-{i}"} for i in range(n_items)]
    return json.dumps({"query": "list running dev instances", "context": ctx}).encode()


def main() -> None:
    from escher.brain.models import AskRequest
    from escher.brain.server import parse_body
    from escher.errors import EscherError
    from escher.secret_scan import rules, scan_text

    t0 = time.perf_counter()
    rules()
    print(f"first use (builds the rules, imports detect-secrets): {(time.perf_counter() - t0) * 1000:.0f} ms")
    print("scan_text, 1 MB of text:")
    for name, text in _texts().items():
        wall, cpu = _measure(lambda t=text: scan_text(t))  # type: ignore[misc]
        mb = len(text) / MB
        print(f"  {name:44s} {wall / mb * 1000:7.1f} ms/MB wall  {cpu / mb * 1000:7.1f} ms/MB cpu")
    print("the brain's request path (parse_body: JSON, depth, scan of values and field names, validation):")
    for n in (30, 300, 900):
        raw = _request_body(n)
        try:
            wall, cpu = _measure(lambda r=raw: parse_body(r, AskRequest, 10 * MB))  # type: ignore[misc]
        except EscherError as exc:  # AskRequest allows 300 items: past that, time the scan alone
            from escher.privacy import find_credentials_in

            data = json.loads(raw)
            wall, cpu = _measure(lambda d=data: find_credentials_in(d))  # type: ignore[misc]
            label = f"find_credentials_in only ({type(exc).__name__} past 300 items)"
        else:
            label = "parse_body"
        mb = len(raw) / MB
        print(f"  {n:4d} context items, {len(raw) / 1000:6.0f} KB  {wall * 1000:7.1f} ms wall  {cpu * 1000:7.1f} ms "
              f"cpu  = {wall / mb * 1000:6.1f} ms/MB wall  {cpu / mb * 1000:6.1f} ms/MB cpu  ({label})")  # fmt: skip


if __name__ == "__main__":
    main()
