"""The replay harness's "every scripted request was made" check, seen from outside: a pytest run of a small test
file that leaves a response unused must fail at teardown and name the response."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.functional.ops.replay import Exchange, Replay, RequestsReplayAdapter
from tests.harness.replay import all_used

ROOT = Path(__file__).resolve().parents[3]

SCRIPTED = """
import requests

from tests.functional.ops.replay import Exchange, Replay, RequestsReplayAdapter


def session(replay):
    s = requests.Session()
    s.mount("https://", RequestsReplayAdapter(replay))
    return s


def test_one_response_left():
    replay = Replay(Exchange("GET", "/used"), Exchange("POST", "/never-asked", status=202))
    assert session(replay).get("https://example.test/used").status_code == 200


def test_all_used():
    replay = Replay(Exchange("GET", "/used"))
    session(replay).get("https://example.test/used")


def test_failing_on_its_own():
    replay = Replay(Exchange("GET", "/never"))
    session(replay)
    assert False, "the test's own failure"
"""


def _session(replay: Replay) -> requests.Session:
    s = requests.Session()
    s.mount("https://", RequestsReplayAdapter(replay))
    return s


def test_a_left_over_response_fails_the_test_at_teardown_and_is_named(tmp_path: Path) -> None:
    (tmp_path / "test_scripted.py").write_text(SCRIPTED)
    (tmp_path / "conftest.py").write_text(  # as tests/functional/ops/conftest.py loads it
        "from tests.harness.replay import every_scripted_request_made, pytest_runtest_makereport  # noqa: F401\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_scripted.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "ERROR at teardown of test_one_response_left" in out
    assert "POST /never-asked -> 202" in out
    assert "1 failed, 2 passed, 1 error" in out  # test_all_used passes; the failing test reports only itself
    assert "ERROR at teardown of test_failing_on_its_own" not in out


def test_all_used_names_what_is_left() -> None:
    replay = Replay(
        Exchange("GET", "/a"), [Exchange("GET", "/b", query="x=1"), Exchange("DELETE", "/c", status=404)]
    )
    with pytest.raises(AssertionError, match=r"GET /b\?x=1 -> 200\n.*DELETE /c -> 404"), all_used(replay):
        _session(replay).get("https://example.test/a")
    with all_used(replay):
        _session(replay).get("https://example.test/b?x=1")
        _session(replay).delete("https://example.test/c")
