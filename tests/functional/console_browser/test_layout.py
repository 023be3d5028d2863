"""The console at a desktop width (1280 px) and a phone's (390 px): nothing wider than the screen, the
navigation, the banners, the report and every button on screen. Screenshots of both go to the test's temp dir,
and to ``docs/`` for the README when ``ESCHER_SCREENSHOTS_DIR=docs`` is set."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from escher.console.app import RunningConsole
from tests.functional.console_browser.conftest import Estate, new_context, screenshots_dir, signed_in


@pytest.mark.parametrize("width", [1280, 390])
def test_works_at_desktop_and_phone_width(
    browser: Browser, console: RunningConsole, estate: Estate, width: int, tmp_path: Path
) -> None:
    from escher.demo.events import bucket_made_public, security_group_opened
    from escher.pipeline import runtime
    from escher.pipeline.worker import handle_event

    runtime.reset()  # a CRITICAL and a HIGH banner, as a morning after an incident
    handle_event("aws", bucket_made_public(str(uuid.uuid4()), estate.bucket), source="eventbridge")
    handle_event(
        "aws", security_group_opened(str(uuid.uuid4()), "sg-0123456789abcdef0"), source="eventbridge"
    )
    context = new_context(browser, width=width, height=900 if width > 500 else 844)
    try:
        visit = signed_in(context, console)
        page = visit.page
        expect(page.locator("#headline")).to_be_visible()
        expect(page.locator("#banners .banner").first).to_be_visible()
        page.wait_for_function("() => document.querySelector('#severity-chart') && window.Chart"
                               " && window.Chart.getChart(document.querySelector('#severity-chart'))")  # fmt: skip
        # nothing is wider than the screen: no sideways scrolling
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the {width} px screen"
        # the navigation is reachable and every button lies within the screen's width
        expect(page.locator("#main-nav")).to_be_attached()
        outside = page.evaluate(
            """(w) => [...document.querySelectorAll('button')].filter(b => b.offsetParent !== null)
                 .map(b => b.getBoundingClientRect()).filter(r => r.left < 0 || r.right > w + 1).length""",
            width,
        )
        assert outside == 0, f"{outside} button(s) stick out of the {width} px screen"
        shot = page.screenshot(full_page=False)
        (tmp_path / f"console-{width}.png").write_bytes(shot)
        if (docs := screenshots_dir()) is not None:
            docs.mkdir(parents=True, exist_ok=True)
            (docs / f"console-{width}.png").write_bytes(shot)
        assert visit.errors == []
    finally:
        context.close()
