from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from escher.config import Paths
from escher.store.store import Store


@pytest.fixture
def store_paths(tmp_path: Path) -> Paths:
    paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    paths.data_dir.mkdir(parents=True)
    return paths


@pytest.fixture
def store(pg_database: str, store_paths: Paths) -> Iterator[Store]:
    """A store on a fresh database of the session's embedded server (the external-URL code path)."""
    with Store.open(paths=store_paths, url=pg_database) as s:
        yield s
