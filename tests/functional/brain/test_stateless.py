"""The brain is stateless, provably: nothing written to disk, no memory between requests, no cross-talk."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.functional.brain.conftest import RunningBrain

REPO = Path(__file__).resolve().parents[3]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def ask_body(tag: str, n: int = 3) -> dict[str, Any]:
    ctx = [{"id": f"i-{tag}{i:04d}", "cloud": "aws", "region": "us-east-1", "resource_type": "aws.ec2.instance",
            "state": "running", "tags": {"env": "dev"}} for i in range(n)]  # fmt: skip
    return {"query": "list running dev instances", "context": ctx}


def test_concurrent_requests_do_not_see_each_other(rules_brain: RunningBrain) -> None:
    def one(k: int) -> tuple[int, list[str]]:
        resp = httpx2.post(
            f"{rules_brain.url}/v1/ask",
            json=ask_body(f"{k:04x}", 2 + k % 3),
            timeout=20,
            headers=auth(rules_brain.token),
        )
        assert resp.status_code == 200
        return k, resp.json()["resource_ids"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(48)))
    for k, ids in results:
        assert ids == [f"i-{k:04x}{i:04d}" for i in range(2 + k % 3)]


def test_identical_requests_are_independent(rules_brain: RunningBrain) -> None:
    url, h = f"{rules_brain.url}/v1/ask", auth(rules_brain.token)
    first = httpx2.post(url, json=ask_body("aaaa"), timeout=10, headers=h).json()
    other = httpx2.post(url, json={"query": "list running dev instances"}, timeout=10, headers=h).json()
    again = httpx2.post(url, json=ask_body("aaaa"), timeout=10, headers=h).json()
    assert first == again
    assert other["resource_ids"] == []  # the previous request's estate is not remembered


_NO_WRITES = """
import os, sys
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def hook(event, args):
    bad = False
    if event == "open":
        path, mode, flags = args
        bad = isinstance(path, (str, bytes)) and ((isinstance(mode, str) and any(c in mode for c in "wax+"))
                                                  or (flags or 0) & _WRITE)
    elif event in ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "shutil.copyfile",
                   "shutil.rmtree", "os.symlink", "os.link"):
        bad = True
    if bad:
        sys.stderr.write(f"WRITE ATTEMPT {event} {args!r}\\n")
        raise PermissionError(f"the brain must not write: {event}")
sys.addaudithook(hook)
sys.argv = ["escher", *sys.argv[1:]]
from escher.cli.main import run
run()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _snapshot(root: Path) -> list[tuple[str, int, float]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime) for p in root.rglob("*"))


@pytest.mark.slow
def test_the_server_runs_with_a_read_only_home_and_data_dir_and_writes_nothing(tmp_path: Path) -> None:
    home, data, cwd = tmp_path / "home", tmp_path / "data", tmp_path / "cwd"
    for d in (home, data, cwd):
        d.mkdir()
        (d / "keep").write_text("x")
        d.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    before = {d: _snapshot(d) for d in (home, data, cwd)}
    port = _free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "ESCHER_DATA_DIR": str(data),
           "ESCHER_CONFIG_DIR": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
           "TMPDIR": str(cwd), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(REPO),
           "ESCHER_BRAIN_TOKEN": "stateless-test-token"}  # fmt: skip
    h = auth("stateless-test-token")
    # As root, permissions do not stop writes, so the server also runs under an audit hook that refuses (and
    # reports) any file opened for writing and any directory or file created, renamed or removed.
    proc = subprocess.Popen(
        [sys.executable, "-c", _NO_WRITES, "brain", "serve", "--port", str(port)],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"brain did not start: {out[-2000:]}")
            time.sleep(0.1)
        assert httpx2.post(f"{url}/v1/ask", json=ask_body("ro"), timeout=10, headers=h).status_code == 200
        event = {"event_id": "e1", "event_type": "storage_bucket_public", "severity": "HIGH", "cloud_provider": "aws",
                 "account_id": "123456789012", "region": "us-east-1", "timestamp": "2025-01-01T00:00:00Z",
                 "resource": {"type": "AWS::S3::Bucket", "id": "b1", "name": "b1"}}  # fmt: skip
        assert (
            httpx2.post(f"{url}/v1/events/analyze", json={"event": event}, timeout=10, headers=h).status_code
            == 200
        )
        assert (
            httpx2.post(
                f"{url}/v1/reports/summarize", json={"findings": []}, timeout=10, headers=h
            ).status_code
            == 200
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert "WRITE ATTEMPT" not in output, output[-3000:]
    assert {d: _snapshot(d) for d in (home, data, cwd)} == before
