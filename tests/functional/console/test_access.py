"""Who gets in: the token, the cookie it becomes, the Host check, CSRF on every POST (no cloud needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tests.functional.console.conftest import BASE, PORT, TOKEN, csrf

PAGES = ("/", "/approvals", "/ask", "/estate", "/audit", "/settings")


def _app() -> Any:
    from escher.audit import MemoryAuditSink
    from escher.console.app import Console, create_app
    from escher.console.auth import Access

    access = Access(TOKEN)
    access.allow_port(PORT)
    return create_app(Console(access, MemoryAuditSink()))


def test_without_the_token_every_page_is_refused_and_says_how_to_get_in(escher_home: Path) -> None:
    tc = TestClient(_app(), base_url=BASE)
    for path in (*PAGES, "/events", "/static/console.css"):
        res = tc.get(path)
        assert res.status_code == 401, path
        assert "escher console" in res.text and "?token=" in res.text
    assert tc.get("/?token=not-the-token").status_code == 401
    assert tc.post("/fix", data={"finding_ids": "F-1"}).status_code == 401


def test_the_token_becomes_an_httponly_strict_cookie_and_leaves_the_url(escher_home: Path) -> None:
    tc = TestClient(_app(), base_url=BASE)
    res = tc.get(f"/estate?token={TOKEN}&cloud=aws", follow_redirects=False)
    assert res.status_code == 303
    assert res.headers["location"] == "/estate?cloud=aws"  # the token is gone, the rest kept
    cookie = res.headers["set-cookie"].lower()
    assert "escher_console=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    for path in PAGES:
        page = tc.get(path)
        assert page.status_code == 200, (path, page.text[-800:])
        assert '<main id="main"' in page.text and '<nav id="main-nav"' in page.text and "<header" in page.text
        assert page.headers["x-frame-options"] == "DENY"


def test_a_wrong_host_is_refused_even_with_the_token(escher_home: Path) -> None:
    tc = TestClient(_app(), base_url=BASE)
    assert tc.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    assert tc.get("/", headers={"Host": f"evil.example:{PORT}"}).status_code == 400
    assert tc.get("/", headers={"Host": "127.0.0.1:9999"}).status_code == 400
    assert tc.get("/", headers={"Host": f"localhost:{PORT}"}).status_code == 200


def test_a_post_without_the_sessions_csrf_token_is_refused(escher_home: Path) -> None:
    tc = TestClient(_app(), base_url=BASE)
    tc.get(f"/?token={TOKEN}")
    token = csrf(tc.get("/").text)
    assert tc.post("/alerts/A-1/ack", data={"next": "/"}).status_code == 403
    assert tc.post("/alerts/A-1/ack", data={"csrf_token": "forged"}).status_code == 403
    assert tc.post("/alerts/A-1/ack", headers={"X-CSRF-Token": "forged"}).status_code == 403
    # with the token (form field or htmx's header) the request reaches the handler: no such alert, a 404 page
    res = tc.post("/alerts/A-1/ack", data={"csrf_token": token})
    assert res.status_code == 404 and "no alert" in res.text
    assert tc.post("/alerts/A-1/ack", headers={"X-CSRF-Token": token}).status_code == 404
    # another session's token does not count
    other = TestClient(_app(), base_url=BASE)
    other.get(f"/?token={TOKEN}")
    assert other.post("/alerts/A-1/ack", data={"csrf_token": token}).status_code == 403


def test_escher_console_prints_its_url_serves_it_and_refuses_a_remote_host_without_the_flag(
    escher_home: Path,
) -> None:
    import os
    import signal
    import subprocess
    import sys

    import requests

    escher = str(Path(sys.executable).with_name("escher"))
    env = {**os.environ, "ESCHER_CONSOLE_TOKEN": TOKEN, "ESCHER_USER": "solo"}
    refused = subprocess.run([escher, "console", "--no-browser", "--host", "0.0.0.0"], env=env,
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr

    proc = subprocess.Popen([escher, "console", "--no-browser"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Escher Console: http://127.0.0.1:") and line.rstrip().endswith(
            f"?token={TOKEN}"
        )
        url = line.split(": ", 1)[1].strip()
        browser = requests.Session()
        assert browser.get(url, timeout=10).status_code == 200
        assert requests.get(url.split("?")[0], timeout=10).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert TOKEN not in (proc.stderr.read() if proc.stderr else "")  # no access log carrying the token


def test_a_broken_config_is_a_message_on_the_page_not_a_trace(escher_home: Path) -> None:
    (escher_home / "config").mkdir(parents=True, exist_ok=True)
    (escher_home / "config" / "config.toml").write_text('[personas]\nmanagers = "mona"\n', encoding="utf-8")
    tc = TestClient(_app(), base_url=BASE, raise_server_exceptions=False)
    tc.get(f"/?token={TOKEN}")
    for path in ("/", "/settings", "/approvals"):
        res = tc.get(path)
        assert res.status_code == 400 and "[personas] section is invalid" in res.text, path
        assert "Traceback" not in res.text and "What to do:" in res.text
