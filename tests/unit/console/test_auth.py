"""The console's access rules without a server: token, sessions, hosts, CSRF."""

from __future__ import annotations

import pytest

from escher.console.auth import Access, console_token


def test_the_token_is_the_environments_or_a_new_random_one() -> None:
    assert console_token({"ESCHER_CONSOLE_TOKEN": "from-the-environment-123"}) == "from-the-environment-123"
    first, second = console_token({}), console_token({})
    assert first != second and len(first) >= 32


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ValueError):
        Access("short")


def test_hosts_are_the_loopback_names_of_the_bound_port_only() -> None:
    access = Access("t" * 20)
    access.allow_port(5123)
    assert access.host_ok("127.0.0.1:5123") and access.host_ok("LOCALHOST:5123")
    assert not access.host_ok("127.0.0.1:5124") and not access.host_ok("attacker.example:5123")
    assert not access.host_ok(None) and not access.host_ok("127.0.0.1")


def test_a_session_has_its_own_csrf_token() -> None:
    access = Access("t" * 20)
    assert access.token_ok("t" * 20) and not access.token_ok("t" * 19) and not access.token_ok(None)
    one, two = access.open_session(), access.open_session()
    assert access.session(one.session_id) is one and access.session("unknown") is None
    assert (
        Access.csrf_ok(one, one.csrf) and not Access.csrf_ok(one, two.csrf) and not Access.csrf_ok(one, None)
    )
