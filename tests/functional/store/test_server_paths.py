"""The embedded server on the data dirs people really have: spaces and accents in the path (macOS's default
``~/Library/Application Support/escher``), and two processes opening a fresh one at the same moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from escher.config import Paths
from escher.store.errors import StoreUnavailableError
from escher.store.models import Collection, InventoryItem
from escher.store.server import EmbeddedServer, server_state
from escher.store.store import Store

ESCHER = str(Path(sys.executable).parent / "escher")


@pytest.fixture
def spaced_home() -> Iterator[Path]:
    # not tmp_path: pytest's long test-named dirs would exceed the ~103-byte unix socket limit on their own
    with tempfile.TemporaryDirectory(prefix="esc ") as tmp:
        yield Path(tmp)


def test_a_data_dir_with_a_space_and_accents_works(spaced_home: Path) -> None:
    # GIVEN macOS's default data dir shape, plus letters outside ASCII
    data = spaced_home / "Library" / "Application Support" / "escher é"
    data.mkdir(parents=True)
    paths = Paths(spaced_home / "config", data)
    # WHEN the store is opened, written, closed and opened again
    with Store.open(paths=paths, url=None) as store:
        store.put(InventoryItem(resource_id="i-1", resource_type="aws.ec2.instance", name="web 1"))
        assert "Application%20Support" in store.url  # the socket dir is percent-encoded in the URL
    with Store.open(paths=paths, url=None) as store:
        # THEN the record is there, and the server stopped with its last user
        assert store.get(Collection.inventory, "i-1") is not None
    assert not server_state(data).running


def test_the_cli_works_on_a_data_dir_with_a_space(spaced_home: Path) -> None:
    env = {
        **os.environ,
        "ESCHER_CONFIG_DIR": str(spaced_home / "config"),
        "ESCHER_DATA_DIR": str(spaced_home / "Application Support" / "escher"),
    }
    out = subprocess.run(
        [ESCHER, "-o", "json", "store", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert json.loads(out.stdout)["backend"] == "embedded"


def test_a_data_dir_the_shell_would_expand_is_refused_clearly(spaced_home: Path) -> None:
    server = EmbeddedServer(spaced_home / "$HOME")
    with pytest.raises(StoreUnavailableError) as err:
        server.start()
    assert "$" in err.value.message and err.value.hint and "ESCHER_DATA_DIR" in err.value.hint


OPEN = """
import sys
from pathlib import Path
from escher.config import Paths
from escher.store.store import Store
root = Path(sys.argv[1])
with Store.open(paths=Paths(root / "cfg", root / "data"), url=None) as store:
    print("opened", store.status().schema_version, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(3))
def test_two_processes_on_a_fresh_data_dir_both_open_it(trial: int) -> None:
    with tempfile.TemporaryDirectory(prefix="esc-") as tmp:  # no space: this is about the race alone
        _two_processes(Path(tmp))


def _two_processes(root: Path) -> None:
    # GIVEN a data dir no server was ever started in
    (root / "data").mkdir(parents=True)
    # WHEN two processes open the store at the same moment (before the fix, 2 of 3 trials crashed on
    # CREATE DATABASE: both saw no database and both created it)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    # THEN both open it, and the server stopped with its last user
    for proc, (stdout, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
        assert stdout.startswith("opened"), stderr
    assert not server_state(root / "data").running
