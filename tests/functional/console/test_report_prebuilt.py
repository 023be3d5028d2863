"""The report page is built when a scan is stored, not when someone first asks for it: the console's background
build notices the new scan (its fingerprint of the store changed) and builds the page; the next request is served
from it without a build, and shows that scan. A request arriving while a build runs waits for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.functional.console.conftest import BASE, PORT, REGION, TOKEN, Estate

CHECKS = "aws.s3.bucket_public,aws.ec2.instance_idle,aws.ec2.instance_overprovisioned"


@pytest.fixture
def console(estate: Estate) -> Iterator[Any]:
    from escher.console.app import Console
    from escher.console.auth import Access

    access = Access(TOKEN)
    access.allow_port(PORT)
    made = Console(access)
    yield made
    made.close()


def _signed_in(console: Any) -> Any:
    from starlette.testclient import TestClient

    from escher.console.app import create_app

    tc = TestClient(create_app(console), base_url=BASE)
    assert tc.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    return tc


def _scan() -> None:
    from typer.testing import CliRunner

    from escher.cli.main import app

    res = CliRunner().invoke(app, ["scan", "--region", REGION, "--checks", CHECKS])
    assert res.exit_code in (0, 1), res.output


def _latest_scan_id() -> str:
    from escher.scans.persist import close_store, open_store

    store = open_store()
    try:
        return store.keys("scan")[-1]
    finally:
        close_store(store)


def _shown(console: Any) -> Any:
    """The report the console keeps for the store as it is now (None: nothing kept for it)."""
    from escher.config import load_settings
    from escher.console.views import _fingerprint

    kept = console.report_cache.get(_fingerprint(console.store(), load_settings().extensions))
    return kept.report if kept is not None else None


def _flagged(report: Any, resource: str) -> bool:
    return any(resource in " ".join(g.resources) for g in report.security)


def test_after_a_scan_is_stored_the_next_report_request_does_not_build(estate: Estate, console: Any) -> None:
    cache = console.report_cache
    assert console.prebuild() is True and cache.builds == 1  # the scan the fixture stored
    assert console.prebuild() is False and cache.builds == 1  # nothing new: nothing built
    assert _flagged(_shown(console), estate.bucket)
    with _signed_in(console) as tc:
        page = tc.get("/")
        assert page.status_code == 200 and estate.bucket in page.text
        assert cache.builds == 1  # served from the page built ahead

        first = _latest_scan_id()
        boto3.client("s3", region_name=REGION).put_bucket_acl(Bucket=estate.bucket, ACL="private")
        _scan()
        second = _latest_scan_id()
        assert second != first
        assert _shown(console) is None  # the kept page is of the previous scan: never served for this one
        assert console.prebuild() is True and cache.builds == 2
        report = _shown(console)
        assert report is not None and report.scan_id == second
        assert not _flagged(report, estate.bucket)  # the new scan's report: the bucket is private now
        assert tc.get("/").status_code == 200
        assert cache.builds == 2  # the first request after the new scan built nothing


def test_the_background_build_notices_a_new_scan_by_itself(estate: Estate, console: Any) -> None:
    cache = console.report_cache
    console.start_prebuilding(interval=0.1)
    _wait(lambda: cache.builds >= 1)
    _scan()
    _wait(lambda: _shown(console) is not None and _shown(console).scan_id == _latest_scan_id())
    built = cache.builds
    with _signed_in(console) as tc:
        assert tc.get("/").status_code == 200
    assert cache.builds == built


def _wait(done: Any, limit: float = 120.0) -> None:
    """Until ``done()``: a deadline for a hung thread, not a speed target."""
    deadline = time.monotonic() + limit
    while not done():
        assert time.monotonic() < deadline, "the background build did not happen"
        time.sleep(0.05)


def test_a_request_during_a_build_waits_for_it_instead_of_building_again() -> None:
    from escher.console.views import ReportCache

    cache = ReportCache()
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow() -> str:
        calls.append("built")
        started.set()
        release.wait(30)
        return "page"

    got: list[Any] = []
    background = threading.Thread(target=lambda: got.append(cache.get_or_build(("fp",), slow, reader=False)))
    background.start()
    assert started.wait(30)
    request = threading.Thread(target=lambda: got.append(cache.get_or_build(("fp",), slow)))
    request.start()
    release.set()
    background.join(30)
    request.join(30)
    assert got == ["page", "page"] and calls == ["built"] and cache.builds == 1
    assert cache.get_or_build(("other",), lambda: "new") == "new" and cache.builds == 2


def test_a_failed_build_is_not_kept_and_the_waiting_request_builds_itself() -> None:
    from escher.console.views import ReportCache

    cache = ReportCache()
    assert cache.get_or_build(("fp",), lambda: "error", keep=lambda v: v != "error") == "error"
    assert cache.get(("fp",)) is None
    assert cache.get_or_build(("fp",), lambda: "page") == "page" and cache.builds == 2
