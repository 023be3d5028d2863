"""``escher demo --console`` as a new user runs it: the demo, then the console on the demo estate with the
emulators still up. The URL line is read from the output; the page answers with the token (and not without);
in the browser the user sees the CRITICAL banner, approves the pending SSH fix as a manager and sees it run and
verified; Ctrl-C stops everything and leaves nothing behind."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.functional.console_browser.conftest import new_context, screenshots_dir

ESCHER = str(Path(sys.executable).parent / "escher")
URL_LINE = re.compile(r"^console: (http://127\.0\.0\.1:\d+/\?token=\S+)$")


@dataclass
class DemoConsole:
    process: subprocess.Popen[str]
    url: str
    tmp: Path
    output: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.url.split("/?", 1)[0]


def _read(stream: object, into: queue.Queue[str], keep: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        keep.append(line)
        into.put(line)


@pytest.fixture(scope="module")
def demo_console() -> Iterator[DemoConsole]:
    # its own short TMPDIR (the embedded Postgres's socket path must stay short), checked for leftovers at the end
    tmp = Path(tempfile.mkdtemp(prefix="edc-"))
    env = {**os.environ, "TMPDIR": str(tmp), "COLUMNS": "120"}
    for name in ("ESCHER_CONSOLE_TOKEN", "ESCHER_USER", "ESCHER_DATABASE_URL", "ESCHER_NO_SYNC"):
        env.pop(name, None)
    process = subprocess.Popen(
        [ESCHER, "demo", "--console", "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env, start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []
    threading.Thread(target=_read, args=(process.stdout, lines, output), daemon=True).start()
    url = None
    try:
        while url is None:
            try:
                line = lines.get(timeout=180).rstrip("\n")
            except queue.Empty:
                pytest.fail("escher demo --console printed no console URL in 180 s:\n" + "".join(output))
            if (match := URL_LINE.match(line)) is not None:
                url = match.group(1)
            elif process.poll() is not None and lines.empty():
                pytest.fail(f"escher demo --console exited ({process.returncode}):\n" + "".join(output))
        yield DemoConsole(process, url, tmp, output)
    finally:
        if process.poll() is None:  # a test failed before Ctrl-C: SIGTERM cleans up too, SIGKILL if it hangs
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


def test_the_page_answers_with_the_token_and_not_without(demo_console: DemoConsole) -> None:
    # without the token: refused
    with pytest.raises(urllib.error.HTTPError) as refused:
        _opener().open(demo_console.base_url + "/", timeout=30)
    assert refused.value.code == 401
    # with it: the morning report of the demo estate, with its CRITICAL banner
    with _opener().open(demo_console.url, timeout=60) as reply:
        assert reply.status == 200 and "token=" not in reply.url
        page = reply.read().decode()
    assert 'id="headline"' in page
    assert 'data-severity="CRITICAL"' in page and "customer-data" in page


def test_a_manager_approves_the_pending_ssh_fix_and_sees_it_verified(
    demo_console: DemoConsole, browser: Browser
) -> None:
    context = new_context(browser)
    try:
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.goto(demo_console.url)
        # the CRITICAL banner: the PII bucket made public, fixed by the worker
        critical = page.locator("#banners [data-severity='CRITICAL']").first
        expect(critical).to_be_visible()
        expect(critical).to_contain_text("customer-data")
        # the SSH fix waits for a manager: mona opens Approvals
        page.locator("a[data-nav='approvals']").click()
        item = page.locator("article.approval[data-status='pending']").filter(has_text="revoke_open_ingress")
        expect(item).to_have_count(1)
        request_id = item.get_attribute("data-request-id")
        if (docs := screenshots_dir()) is not None:  # the README's picture of the demo's approvals inbox
            docs.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(docs / "console-demo-approvals.png"))
        page.locator(f"#reason-{request_id}").fill("SSH to the world on the web tier: close it")
        item.locator("button[data-action='approve-run']").click()
        # it ran through the gate under that approval, and the engine verified the rule is gone
        result = page.locator("#plan-result")
        expect(result).to_have_attribute("data-outcome", "executed")
        expect(result).to_contain_text("verified")
    finally:
        context.close()


def test_ctrl_c_stops_the_console_and_the_emulators(demo_console: DemoConsole) -> None:
    process = demo_console.process
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0, "".join(demo_console.output)
    # the console is gone, and the demo's temp dir (emulators' data, the demo laptop) was removed
    with pytest.raises(urllib.error.URLError):
        _opener().open(demo_console.base_url + "/", timeout=5)
    assert list(demo_console.tmp.glob("escher-demo-*")) == []
