"""What every collector shares: per-API token buckets and a parallel task runner that records failures.

A collector is a list of tasks, one per (service, region). Each runs in a thread pool, paces its calls through
the token bucket of the API it calls, and either returns records or fails on its own: a failed task becomes a
:class:`CollectionError` in the inventory (so the report says "S3 could not be read", never "0 buckets").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from escher.scans.model import CollectionError, Inventory, Record

__all__ = ["Produces", "Progress", "Task", "TokenBucket", "produces", "run_tasks"]


class TokenBucket:
    """Client-side pacing matching the provider's own bucket (size ``burst``, refilled at ``rate`` per second).

    EC2 ``Describe*``: 100 then 20/s per region; ARM reads: 250 then 25/s per subscription (the 2024 model);
    staying under them avoids throttling retries, which cost far more than waiting a few milliseconds.
    """

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, n: float = 1.0) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= n:
                    self._tokens -= n
                    return
                wait = (n - self._tokens) / self.rate
            time.sleep(wait)


class BucketSet:
    """One bucket per (api, scope), created on first use from a table of (rate, burst)."""

    def __init__(self, limits: dict[str, tuple[float, float]], default: tuple[float, float]) -> None:
        self._limits = limits
        self._default = default
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def __call__(self, api: str, scope: str = "") -> TokenBucket:
        key = (api, scope)
        with self._lock:
            if key not in self._buckets:
                rate, burst = self._limits.get(api, self._default)
                self._buckets[key] = TokenBucket(rate, burst)
            return self._buckets[key]


Progress = Callable[[str, int], None]  # (task label, records found) after each task

Produces = Mapping[str, frozenset[str]]
"""What a task can yield: record type -> the ``attrs`` keys its records can carry. The coverage test and
``escher scan --list-checks`` match the checks' ``reads`` against it; the collectors' tests check it against
what the task really returned on an emulated estate, both ways."""


def produces(table: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """``{"aws.ec2.vpc": "flow_logs is_default"}``: a :data:`Produces` written as space-separated names."""
    return {type_: frozenset(attrs.split()) for type_, attrs in table.items()}


@dataclass(frozen=True, slots=True)
class Task:
    cloud: str
    service: str
    region: str
    run: Callable[[], list[Record]]
    produces: Produces = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.cloud} {self.service} {self.region}"


ErrorMapper = Callable[[BaseException], CollectionError | None]


def run_tasks(
    tasks: Sequence[Task],
    *,
    to_error: Callable[[Task, BaseException], CollectionError | None],
    max_workers: int = 8,
    progress: Progress | None = None,
) -> Inventory:
    """Run tasks in parallel. ``to_error`` turns a cloud failure into a CollectionError; anything it does not
    recognise (returns None for) is a bug and is re-raised."""
    inventory = Inventory()
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="escher-collect") as pool:
        futures = {pool.submit(task.run): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            exc = future.exception()
            if exc is None:
                records = future.result()
                inventory.records.extend(records)
                inventory.covered.append((task.cloud, task.service, task.region))
                if progress:
                    progress(task.label, len(records))
                continue
            error = to_error(task, exc)
            if error is None:
                raise exc
            inventory.errors.append(error)
            if progress:
                progress(task.label + " (failed)", 0)
    return inventory
