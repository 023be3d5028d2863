"""The console in a real browser: Playwright (sync API) driving Debian's Chromium against ``escher console``
started in this process on a free loopback port, on a moto estate scanned through the CLI.

Playwright's own browser download is not reachable here (and never run): the tests use ``/usr/bin/chromium``
(``.ci/run`` and ``make tools`` install it with apt when missing) and skip, saying why, without it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from escher.emulators import MotoEmulator

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

    from escher.console.app import RunningConsole
    from escher.policy.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REGION = "us-east-1"
PUBLIC_BUCKET = "customer-exports"
MANAGERS = ("alice", "mona")
CONFIG = f"""\
[aws]
regions = ["{REGION}"]

[personas]
managers = {list(MANAGERS)!r}
""".replace("'", '"')


@pytest.fixture(scope="package")  # stopped after this package: its event loop would break later asyncio.run
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it when root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Estate:
    """What the console shows: a moto account with a public PII bucket, scanned through the CLI."""

    home: Path
    bucket: str
    s3: Any


def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", region_name=REGION, config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def home(escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config (two managers; mona is the one at the browser) and data dir, the store a fresh database."""
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("ESCHER_NO_SYNC", "1")
    monkeypatch.setenv("ESCHER_USER", "mona")
    (escher_home / "config").mkdir(parents=True, exist_ok=True)
    (escher_home / "config" / "config.toml").write_text(CONFIG, encoding="utf-8")
    return escher_home


@pytest.fixture
def estate(aws_env: MotoEmulator, home: Path, pg_database: str) -> Estate:
    from typer.testing import CliRunner

    from escher.cli.main import app

    s3 = s3_client()
    s3.create_bucket(Bucket=PUBLIC_BUCKET)
    s3.put_bucket_tagging(
        Bucket=PUBLIC_BUCKET, Tagging={"TagSet": [{"Key": "data_classification", "Value": "PII"}]}
    )
    s3.put_bucket_acl(Bucket=PUBLIC_BUCKET, ACL="public-read")
    _cost_history(pg_database)
    scanned = CliRunner().invoke(app, ["scan", "--region", REGION])
    assert scanned.exit_code in (0, 1), scanned.output  # 1: findings were found
    _estate_for_the_pipeline()
    return Estate(home, PUBLIC_BUCKET, s3)


def _cost_history(url: str) -> None:
    """Six weeks of daily spend (moto has no billing history), so the report has its cost trend."""
    from datetime import UTC, datetime, timedelta

    from escher.scans.persist_store import StoreResults
    from escher.scans.synthetic import cost_snapshot
    from escher.store.store import Store

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with Store.open(url=url) as store:
        StoreResults(store).put("cost", f"aws-{yesterday}", cost_snapshot(yesterday).to_dict())


def _estate_for_the_pipeline() -> None:
    """The scanned inventory where the pipeline enriches events from (as the worker's daily job leaves it), so
    an event on the PII bucket is rated by what the bucket holds."""
    import json

    from escher.pipeline.adapters import ESTATE_KEY
    from escher.pipeline.runtime import state_objects
    from escher.scans.persist import close_store, open_store

    store = open_store()
    try:
        inventory = store.get("estate", "latest")
    finally:
        close_store(store)
    assert inventory is not None
    state_objects().put(ESTATE_KEY, json.dumps(inventory).encode())


@pytest.fixture
def console(home: Path) -> Iterator[RunningConsole]:
    """``escher console``'s server on a free port of 127.0.0.1, in this process; stopped after the test. It
    reads the environment per request: a test that also asks for ``estate`` sees it."""
    from escher.console.app import serve

    handle = serve(port=0, token=secrets.token_urlsafe(16), open_browser=False)
    try:
        yield handle
    finally:
        handle.stop()


@contextmanager
def core_runtime() -> Iterator[Runtime]:
    """The core as a CLI command opens it (the same ledger), closed at the end (not at the process's)."""
    from escher.audit.ledger import LedgerAuditSink
    from escher.policy.runtime import open_runtime

    sink = LedgerAuditSink()
    try:
        yield open_runtime(sink)
    finally:
        sink.close()


def new_context(browser: Browser, width: int = 1280, height: int = 900) -> BrowserContext:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    # expect() has its own timeout (5 s by default): an approved action runs on moto before the page says so, and
    # on a loaded 2-core machine running the suite in parallel that took longer than 5 s
    expect.set_options(timeout=15_000)
    return context


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = new_context(browser)
    yield ctx
    ctx.close()


@dataclass
class Visit:
    """A signed-in page, with what it asked the network for and what went wrong in it."""

    page: Page
    requests: list[str]
    errors: list[str]


def signed_in(context: BrowserContext, console: RunningConsole, path: str = "/") -> Visit:
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))

    def console_error(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", console_error)
    reply = page.goto(f"{console.login_url}")
    assert reply is not None and reply.status == 200, reply and reply.status
    if path != "/":
        page.goto(console.base_url + path)
    return Visit(page, requests, errors)


def events_open(page: Page) -> None:
    """Wait until the page's event stream said ``ready`` (console.js sets ``body[data-events=open]``)."""
    page.wait_for_selector("body[data-events='open']", state="attached")


def screenshots_dir() -> Path | None:
    """``ESCHER_SCREENSHOTS_DIR=docs``: the layout test also saves the README's screenshots there."""
    wanted = os.environ.get("ESCHER_SCREENSHOTS_DIR")
    return Path(wanted) if wanted else None
