"""Accessibility basics on every page, read from Chromium's own accessibility tree (the names a screen reader
announces): the landmarks, a name on every button and field, every button reachable with Tab, and severity
said in words, not by colour alone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from escher.console.app import RunningConsole
from tests.functional.console_browser.conftest import Estate, events_open, signed_in

PAGES = ["/", "/approvals", "/ask", "/estate", "/audit", "/settings"]
NAMED_ROLES = {"button", "textbox", "searchbox", "combobox", "checkbox", "radio", "spinbutton", "switch",
               "slider", "listbox", "link"}  # fmt: skip


def _ax_nodes(page: Page) -> list[dict[str, Any]]:
    cdp = page.context.new_cdp_session(page)
    try:
        nodes: list[dict[str, Any]] = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    return [n for n in nodes if not n.get("ignored")]


def _role(node: dict[str, Any]) -> str:
    return str(node.get("role", {}).get("value", ""))


def _name(node: dict[str, Any]) -> str:
    return str(node.get("name", {}).get("value", "")).strip()


@pytest.fixture
def incident(estate: Estate) -> None:
    """A CRITICAL and a HIGH alert (with an approval request), stored by the pipeline, so banners are there."""
    from escher.demo.events import bucket_made_public, security_group_opened
    from escher.pipeline import runtime
    from escher.pipeline.worker import handle_event

    runtime.reset()
    handle_event("aws", bucket_made_public(str(uuid.uuid4()), estate.bucket), source="eventbridge")
    handle_event(
        "aws", security_group_opened(str(uuid.uuid4()), "sg-0123456789abcdef0"), source="eventbridge"
    )


@pytest.mark.usefixtures("incident")
def test_landmarks_names_and_keyboard_on_every_page(context: BrowserContext, console: RunningConsole) -> None:
    visit = signed_in(context, console)
    page = visit.page
    for path in PAGES:
        page.goto(console.base_url + path)
        events_open(page)  # the banners the stream sends on connect are in
        nodes = _ax_nodes(page)
        roles = {_role(n) for n in nodes}
        # landmarks: the header (banner), the navigation and the main content
        assert {"banner", "navigation", "main"} <= roles, f"{path}: landmarks missing from {sorted(roles)}"
        # every control has a name a screen reader can say
        unnamed = [f"{_role(n)} #{n.get('backendDOMNodeId')}" for n in nodes
                   if _role(n) in NAMED_ROLES and not _name(n)]  # fmt: skip
        assert unnamed == [], f"{path}: controls without an accessible name: {unnamed}"
        # every visible button is reached with Tab alone
        missing = _not_reached_by_tab(page)
        assert missing == [], f"{path}: buttons Tab never reaches: {missing}"
    assert visit.errors == []


# A button is known by where it is (the nearest element with an id), what it does and what it says: the live
# banners may be re-rendered while the test tabs through, so nothing is attached to the elements themselves.
_KEY = """(b) => { const home = b.closest('[id]');
                   return `${home ? home.id : ''}|${b.dataset.action || ''}|${b.innerText.trim()}`; }"""


def _not_reached_by_tab(page: Page, limit: int = 400) -> list[str]:
    page.evaluate(
        f"""() => {{ const key = {_KEY}; window.__tabbed = new Set();
                    document.addEventListener('focusin', e => {{
                      if (e.target instanceof HTMLButtonElement) window.__tabbed.add(key(e.target)); }}); }}"""
    )
    wanted = page.evaluate(
        f"""() => {{ const key = {_KEY};
                    return [...document.querySelectorAll('button')]
                      .filter(b => b.offsetParent !== null && !b.disabled).map(key); }}"""
    )
    for _ in range(min(limit, 3 * len(wanted) + 60)):
        page.keyboard.press("Tab")
        if page.evaluate("(w) => w.every(k => window.__tabbed.has(k))", wanted):
            return []
    missing: list[str] = page.evaluate("(w) => w.filter(k => !window.__tabbed.has(k))", wanted)
    return missing


@pytest.mark.usefixtures("incident")
def test_severity_is_said_in_words(context: BrowserContext, console: RunningConsole) -> None:
    visit = signed_in(context, console)
    page = visit.page
    banners = page.locator("#banners [data-severity]")
    expect(banners.first).to_be_visible()
    seen = set()
    for i in range(banners.count()):
        banner = banners.nth(i)
        severity = banner.get_attribute("data-severity") or ""
        seen.add(severity)
        # the word is in the text a person (or a screen reader) gets, whatever the colours
        assert severity in banner.inner_text().upper(), f"banner {i} does not say {severity}"
    assert {"CRITICAL", "HIGH"} <= seen
    assert visit.errors == []
