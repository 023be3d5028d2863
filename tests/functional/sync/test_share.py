"""escher sync --share: two laptops of one team, each with its own store, see each other's acts through the
extension's storage (a directory here), each once."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from escher.audit import AuditRecord
from escher.config import Paths
from escher.pipeline.objects import LocalObjects


@pytest.fixture
def second_database(postgres, request: pytest.FixtureRequest) -> Iterator[str]:  # type: ignore[no-untyped-def]
    name = f"t_share_b_{os.getpid()}"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url(name)
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _laptop(home: Path, extension: LocalObjects) -> Paths:
    from escher.infra.driver import LocalState, save_outputs

    paths = Paths(home / "config", home / "data")
    save_outputs(paths, "aws", {"state_url": extension.state.url})
    local = LocalState.load(paths)
    local.clouds["aws"] = {"mode": "thin-client"}
    local.save()
    return paths


def _share(home: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    from escher.cli.main import app

    monkeypatch.setenv("ESCHER_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("ESCHER_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("ESCHER_DATABASE_URL", database)
    result = CliRunner().invoke(app, ["-o", "json", "sync", "--share"])
    assert result.exit_code == 0, result.output
    [shared] = json.loads(result.stdout)["shared"]
    return dict(shared)


def test_two_laptops_see_each_others_acts_once(
    tmp_path: Path, pg_database: str, second_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.store.store import Store

    extension = LocalObjects(tmp_path / "extension")
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    paths_a, paths_b = _laptop(home_a, extension), _laptop(home_b, extension)
    grant = AuditRecord(record_id="grant-on-a", actor="user:bob", action="approval.grant", target="shop-exports",
                        outcome="approved")  # fmt: skip
    with Store.open(paths=paths_a, url=pg_database) as store_a:
        store_a.ledger.append_audit(grant)

    assert _share(home_a, pg_database, monkeypatch)["pushed"] >= 1
    assert _share(home_b, second_database, monkeypatch)["pulled"] >= 1
    again = _share(home_b, second_database, monkeypatch)
    assert (again["pulled"], again["rejected"]) == (0, [])
    with Store.open(paths=paths_b, url=second_database) as store_b:
        rows = store_b.connection.execute(
            "SELECT count(*) FROM reports WHERE chain = 'audit' AND record_id = 'grant-on-a'"
        ).fetchone()
    assert rows is not None and rows[0] == 1
