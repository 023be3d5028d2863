"""Crash safety of the embedded server: kill -9 of Postgres mid-write, and of the CLI holding the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from escher.config import Paths
from escher.store.models import Collection
from escher.store.server import pgdata_dir, server_state
from escher.store.store import Store

WRITER = """
import sys
from escher.config import Paths
from escher.store.models import InventoryItem
from escher.store.store import Store
from escher.audit import AuditRecord
from pathlib import Path
paths = Paths(Path(sys.argv[1]) / "cfg", Path(sys.argv[1]) / "data")
store = Store.open(paths=paths, url=None)
print("ready", flush=True)
i = 0
while True:
    i += 1
    store.put(InventoryItem(resource_id=f"i-{i}", resource_type="aws.ec2.instance", name=f"vm {i}"))
    store.put(AuditRecord(record_id=f"a-{i}", actor="t", action="write", target=str(i), outcome="info"))
    print(i, flush=True)  # printed only after both commits returned
"""


def _writer(tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _paths(tmp_path: Path) -> Paths:
    (tmp_path / "data").mkdir(exist_ok=True)
    return Paths(tmp_path / "cfg", tmp_path / "data")


@pytest.mark.slow
def test_kill_9_of_postgres_during_writes_loses_no_committed_record(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    proc = _writer(tmp_path)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    committed = 0
    while committed < 150:
        committed = int(proc.stdout.readline())
    postmaster = server_state(paths.data_dir).pid
    assert postmaster is not None
    os.kill(postmaster, signal.SIGKILL)  # the server dies mid-write
    for line in proc.stdout:  # whatever the writer confirmed before it noticed
        if line.strip().isdigit():
            committed = int(line)
    proc.wait(timeout=60)
    assert proc.returncode != 0  # the writer saw its server die

    with Store.open(paths=paths, url=None) as store:  # restart: crash recovery from the WAL
        for i in range(1, committed + 1):
            assert store.get(Collection.inventory, f"i-{i}") is not None, f"committed record i-{i} lost"
            assert store.get(Collection.reports, f"a-{i}") is not None, f"committed audit record a-{i} lost"
        report = store.verify()
        assert report.ok, report.issues


@pytest.mark.slow
def test_a_server_left_by_a_killed_cli_is_detected_and_stopped(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    proc = _writer(tmp_path)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    proc.stdout.readline()
    proc.kill()  # kill -9 of the CLI: its exit hooks never run
    proc.wait(timeout=30)
    left = server_state(paths.data_dir)
    assert left.running and left.leftover  # still up, and nobody alive holds it

    with Store.open(paths=paths, url=None) as store:
        assert store.status().recovered_leftover
        assert store.get(Collection.inventory, "i-1") is not None
    deadline = time.monotonic() + 30
    while server_state(paths.data_dir).running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not server_state(paths.data_dir).running  # and this time it stopped with its last user
    assert (pgdata_dir(paths.data_dir) / "PG_VERSION").exists()
