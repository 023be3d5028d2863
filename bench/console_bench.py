"""The console's speed: server time to render the morning report page for a 10,000-resource estate (goal
<= 300 ms), and the time from an alert stored through the core to its arrival on the ``/events`` stream (goal
<= 1 s). Prints figures; asserts nothing.

    .venv/bin/python -m bench.console_bench      (``make bench`` runs it too)

The estate is the synthetic one (``escher.scans.synthetic``): two scans (the previous one 2 % smaller, so the
report has changes) and a day of cost, stored as ``escher scan`` stores them, in an embedded Postgres in a temp
dir. The console runs in this process (``escher.console.app.serve``) on a free loopback port; the page is fetched
over HTTP with the session cookie, so a figure is the request's round trip on loopback (server time plus well
under a millisecond). The console builds the report page in a background thread when it notices a new scan
(``Console.start_prebuilding``); a request that arrives while that build runs waits for it. Measured: the first
request after the console starts, reloads, a reload after an alert is stored (the banners are read again; the
report is kept: alerts go to the pipeline's state storage, not into what the report is built from), and the first
request after a NEW scan is stored while the console runs: at once (it waits for the build, or builds) and after
the background build finished (how long that took is printed too). Each line says how many builds the requests
themselves did.
"""

from __future__ import annotations

import http.client
import os
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

RESOURCES = 10_000
RELOADS = 15
CHANGES = 5
ALERTS = 8
GOAL_PAGE_MS = 300.0
GOAL_ALERT_S = 1.0


def _seed(n: int) -> int:
    """Two scans of an ``n``-resource estate and a day of cost, stored as ``escher scan`` stores them."""
    from escher.config import Settings
    from escher.scans.persist import close_store, open_store
    from escher.scans.runner import ScanOptions, run_scan
    from escher.scans.synthetic import cost_snapshot, estate

    now = datetime.now(UTC)
    store = open_store()
    try:
        yesterday = date.today() - timedelta(days=1)
        store.put("cost", f"aws-{yesterday}", cost_snapshot(yesterday).to_dict())
        run_scan(
            Settings(),
            ScanOptions(),
            inventory=estate(int(n * 0.98), now=now - timedelta(days=1)),
            store=store,
        )
        scan = run_scan(Settings(), ScanOptions(), inventory=estate(n, now=now), store=store)
    finally:
        close_store(store)
    return len(scan.failed)


class _Session:
    """One keep-alive HTTP connection holding the console's session cookie."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.conn.request("GET", f"/?token={token}")
        reply = self.conn.getresponse()
        reply.read()
        cookie = reply.getheader("Set-Cookie") or ""
        if reply.status not in (302, 303) or not cookie:
            raise RuntimeError(f"the console did not take the token: HTTP {reply.status}")
        self.cookie = cookie.split(";", 1)[0]

    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie, "Host": f"{self.host}:{self.port}"}

    def reconnect(self) -> None:
        """A new connection (uvicorn closes one idle for 5 s, as during a scan), made before a timed request."""
        self.conn.close()
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.conn.connect()

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=self.headers())
        reply = self.conn.getresponse()
        return reply.status, reply.read()


def _rescan(n: int) -> None:
    """One more scan of the estate, stored as ``escher scan`` stores it (the console running)."""
    from escher.config import Settings
    from escher.scans.persist import close_store, open_store
    from escher.scans.runner import ScanOptions, run_scan
    from escher.scans.synthetic import estate

    store = open_store()
    try:
        run_scan(Settings(), ScanOptions(), inventory=estate(n, now=datetime.now(UTC)), store=store)
    finally:
        close_store(store)


def bench_new_scan(session: _Session, cache: Any) -> dict[str, float]:
    """The first request after a new scan is stored: at once, and once the background build is done. A scan
    stores its record, then the estate inventory (10,000 rows): the background build may start in between."""
    before = cache.builds
    _rescan(RESOURCES)
    session.reconnect()
    t0 = time.perf_counter()
    session.get("/")
    at_once = time.perf_counter() - t0
    at_once_built = cache.builds - before  # 1: the request's, or the background build's (done or waited for)
    build_s = cache.build_seconds

    before = cache.builds
    _rescan(RESOURCES)
    stored = time.perf_counter()
    while cache.builds == before:  # the background build notices the scan (polls every second) and builds
        if time.perf_counter() - stored > 120:
            raise RuntimeError("the console did not build the report of the new scan in the background")
        time.sleep(0.01)
    ready = time.perf_counter() - stored
    session.reconnect()
    t0 = time.perf_counter()
    session.get("/")
    after = time.perf_counter() - t0
    return {
        "at_once_ms": at_once * 1000,
        "at_once_builds": at_once_built,
        "ready_s": ready,
        "after_ms": after * 1000,
        "after_builds": cache.builds - before - 1,  # builds beyond the background one: the request's own
        "build_s": (build_s + cache.build_seconds) / 2,
    }


def bench_page(session: _Session, cache: Any) -> dict[str, float]:
    t0 = time.perf_counter()
    status, body = session.get("/")
    first = time.perf_counter() - t0
    if status != 200:
        raise RuntimeError(f"GET / answered {status}: {body[:200]!r}")
    builds = cache.builds
    times = []
    for _ in range(RELOADS):
        t0 = time.perf_counter()
        session.get("/")
        times.append(time.perf_counter() - t0)
    reload_builds = cache.builds - builds
    # a stored alert changes the page's banners (read again for each request); the report is kept
    from escher.alerts.store import AlertStore
    from escher.pipeline.runtime import state_objects

    alerts = AlertStore(state_objects())
    builds = cache.builds
    changed = []
    for n in range(CHANGES):
        alerts.put(_alert(1000 + n))
        t0 = time.perf_counter()
        session.get("/")
        changed.append(time.perf_counter() - t0)
    return {
        "first_ms": first * 1000,
        "median_ms": statistics.median(times) * 1000,
        "max_ms": max(times) * 1000,
        "changed_median_ms": statistics.median(changed) * 1000,
        "changed_max_ms": max(changed) * 1000,
        "changed_builds": cache.builds - builds,
        "reload_builds": reload_builds,
        "kb": len(body) / 1024,
    }


def _alert(n: int) -> Any:
    from escher.alerts.model import Alert

    return Alert(
        alert_id=f"A-bench{n:04d}{uuid.uuid4().hex[:4]}", correlation_id=str(uuid.uuid4()), event_id=str(uuid.uuid4()),
        event_type="bucket_made_public", severity="CRITICAL", severity_rule="bench", cloud="aws",
        account_id="123456789012", region="us-east-1", resource_type="aws.s3.bucket",
        resource_id=f"arn:aws:s3:::bench-{n}", resource_name=f"bench-{n}", status="open",
        title=f"S3 bucket 'bench-{n}' made public", summary="benchmark alert",
    )  # fmt: skip


def bench_alerts(session: _Session) -> list[float]:
    """Store an alert through the core (the store the pipeline writes), time its arrival on /events."""
    from escher.alerts.store import AlertStore
    from escher.pipeline.runtime import state_objects

    store = AlertStore(state_objects())
    conn = http.client.HTTPConnection(session.host, session.port, timeout=10)
    conn.request("GET", "/events", headers={**session.headers(), "Accept": "text/event-stream"})
    stream = conn.getresponse()
    if stream.status != 200:
        raise RuntimeError(f"GET /events answered {stream.status}")

    def until(wanted: str) -> None:
        event = ""
        while True:
            line = stream.readline().decode()
            if not line:
                raise RuntimeError("the event stream closed")
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("ready", "alert") and wanted in line:
                return

    until("")  # the first event (ready, or the open alerts): the stream is open
    took = []
    for n in range(ALERTS):
        alert = _alert(n)
        t0 = time.perf_counter()
        store.put(alert)
        until(alert.alert_id)
        took.append(time.perf_counter() - t0)
    conn.close()
    return took


def main() -> None:
    from escher.emulators import EmbeddedPostgres

    try:
        from escher.console.app import serve
    except ImportError as exc:  # the console extra, or the console itself, is not there
        print(f"console: skipped ({exc})")
        return
    saved = dict(os.environ)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cb-")))
        pg = stack.enter_context(EmbeddedPostgres())
        os.environ.update(
            {
                "ESCHER_CONFIG_DIR": str(tmp / "config"),
                "ESCHER_DATA_DIR": str(tmp / "data"),
                "ESCHER_DATABASE_URL": pg.url(),
                "ESCHER_NO_SYNC": "1",
            }
        )
        try:
            t0 = time.perf_counter()
            findings = _seed(RESOURCES)
            seeded = time.perf_counter() - t0
            token = uuid.uuid4().hex
            handle = serve(port=0, token=token, open_browser=False)
            stack.callback(handle.stop)
            session = _Session(handle.host, handle.port, token)
            cache = handle.console.report_cache
            page = bench_page(session, cache)
            print(
                f"console report page, {RESOURCES:,} resources ({findings:,} findings), goal <= "
                f"{GOAL_PAGE_MS:.0f} ms: after an alert stored (banners read again, report kept; "
                f"{page['changed_builds']} builds) median {page['changed_median_ms']:.0f} ms, max "
                f"{page['changed_max_ms']:.0f} ms over {CHANGES}; a reload with nothing changed "
                f"({page['reload_builds']} builds) median {page['median_ms']:.0f} ms, max {page['max_ms']:.0f} ms "
                f"over {RELOADS}; first request after the console starts {page['first_ms']:.0f} ms (waits for "
                f"the background build under way); {page['kb']:.0f} KB of HTML; seeding {seeded:.1f} s",
                flush=True,
            )
            scan = bench_new_scan(session, cache)
            print(
                f"console report page, first request after a new scan is stored: once the background build "
                f"is done ({scan['ready_s']:.1f} s after the scan returned) {scan['after_ms']:.0f} ms "
                f"({scan['after_builds']} builds by the request); at once after the scan returned "
                f"{scan['at_once_ms']:.0f} ms ({scan['at_once_builds']} build in all, by the background "
                f"thread or the request); the build itself {scan['build_s']:.1f} s (mean of the two)",
                flush=True,
            )
            took = bench_alerts(session)
            print(
                f"console alert stored -> on /events: median {statistics.median(took) * 1000:.0f} ms, max "
                f"{max(took) * 1000:.0f} ms over {len(took)} alerts (goal <= {GOAL_ALERT_S:.0f} s)",
                flush=True,
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)


if __name__ == "__main__":
    main()
