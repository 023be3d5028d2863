"""The browser without the token is refused on every page (401 with how to get in); with it, the token is
swapped for an HttpOnly cookie the page's scripts cannot read; a form posted from another origin is refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, expect

from escher.console.app import RunningConsole
from tests.functional.console_browser.conftest import signed_in


@pytest.mark.parametrize("path", ["/", "/approvals", "/audit", "/events", "/static/vendor/htmx.min.js"])
def test_refused_without_the_token(context: BrowserContext, console: RunningConsole, path: str) -> None:
    page = context.new_page()
    reply = page.goto(console.base_url + path)
    assert reply is not None and reply.status == 401
    if path != "/events":
        expect(page.locator("#login-required")).to_contain_text("escher console")
    assert "Morning report" not in page.content()


def test_refused_with_a_wrong_token(context: BrowserContext, console: RunningConsole) -> None:
    page = context.new_page()
    reply = page.goto(console.base_url + "/?token=not-the-token")
    assert reply is not None and reply.status == 401
    assert context.cookies() == []


def test_token_becomes_an_httponly_cookie(context: BrowserContext, console: RunningConsole) -> None:
    visit = signed_in(context, console)
    [cookie] = context.cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert visit.page.evaluate("() => document.cookie") == ""  # scripts cannot read it
    assert console.token not in visit.page.url


def test_post_without_the_csrf_token_is_refused(context: BrowserContext, console: RunningConsole) -> None:
    signed_in(context, console)
    # the session cookie alone (what a cross-site form would carry) is not enough to change anything
    reply = context.request.post(console.base_url + "/fix", form={"finding_ids": "anything"})
    assert reply.status == 403
