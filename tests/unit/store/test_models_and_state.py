"""Record models, search SQL pieces, state URLs, server detection and the local state backend's contract."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from escher.audit import AuditRecord
from escher.state import StateError, open_state, state_url
from escher.state.local import LocalStore
from escher.store.ledger import GENESIS, LedgerEntry, chain_hash
from escher.store.migrate import packaged_migrations
from escher.store.models import (
    AlertRecord,
    Collection,
    InventoryItem,
    ReportRecord,
    SearchFilter,
    canonical_json,
    parse_record,
)
from escher.store.search import filter_sql, tsquery_text
from escher.store.server import server_state


def test_records_are_strict_and_round_trip_through_json() -> None:
    item = InventoryItem(
        resource_id="i-1", resource_type="aws.ec2.instance", cloud="aws", tags={"env": "dev"}
    )
    assert parse_record("inventory", json.loads(canonical_json(item.to_json()))) == item
    with pytest.raises(ValidationError):
        InventoryItem(resource_id="", resource_type="x")
    with pytest.raises(ValidationError):
        InventoryItem.model_validate({"resource_id": "i", "resource_type": "x", "surprise": 1})
    assert AlertRecord(alert_kind="rule", name="r").key == "rule:r"
    assert item.collection is Collection.inventory


def test_canonical_json_is_order_independent() -> None:
    assert (
        canonical_json({"b": 1, "a": [1, "é"]})
        == canonical_json({"a": [1, "é"], "b": 1})
        == '{"a":[1,"é"],"b":1}'
    )


def test_ledger_entries_route_to_their_chain_and_hash_links() -> None:
    audit = LedgerEntry.from_audit(AuditRecord(actor="u", action="a.b", target="t", outcome="info"))
    cost = LedgerEntry.from_report(ReportRecord(report_kind="cost_snapshot", name="c"))
    assert (audit.chain, cost.chain) == ("audit", "cost")
    h1 = chain_hash(GENESIS, "x")
    assert h1 != chain_hash(GENESIS, "y") and chain_hash(h1, "x") != h1


def test_filters_become_parameterised_sql() -> None:
    where, params = filter_sql(
        SearchFilter(cloud="aws", region="eu-west-1", since=datetime(2026, 1, 1, tzinfo=UTC))
    )
    assert where == "cloud = %(f_cloud)s AND region = %(f_region)s AND at >= %(f_since)s"
    assert params["f_cloud"] == "aws"
    assert filter_sql(None) == ("TRUE", {})
    assert tsquery_text("stop idle VMs", synonyms=True) == "stop | idle | vm | xstop | xidle | xcompute"
    assert tsquery_text("the; DROP TABLE x --", synonyms=False) == "drop | table | x"  # words only


def test_migrations_are_numbered_and_packaged() -> None:
    found = packaged_migrations()
    assert [m.version for m in found] == sorted({m.version for m in found})
    assert "CREATE EXTENSION IF NOT EXISTS vector" in found[0].sql


def test_state_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_state(f"file://{tmp_path}"), LocalStore)
    with pytest.raises(StateError, match="names no bucket"):
        open_state("s3:///prefix")
    monkeypatch.setenv("ESCHER_STATE_URL", "s3://b/p")
    assert state_url({}) == "s3://b/p"
    monkeypatch.delenv("ESCHER_STATE_URL")
    assert state_url({"state": {"url": "gs://x"}}) == "gs://x"
    assert state_url({}) is None


def test_local_store_rejects_escaping_keys(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for key in ("../x", "a/../../b", ""):
        with pytest.raises(StateError):
            store.put_if_absent(key, b"x")


def test_server_state_sees_a_leftover_when_its_users_are_dead(tmp_path: Path) -> None:
    pgdata = tmp_path / "postgres"
    pgdata.mkdir()
    assert not server_state(tmp_path).running
    (pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pgdata}\n")  # "running": this process is alive
    (pgdata / ".handle_pids.json").write_text(json.dumps([2**22 + 12345]))  # a pid that does not exist
    state = server_state(tmp_path)
    assert state.running and state.users == () and state.leftover
    (pgdata / ".handle_pids.json").write_text(json.dumps([os.getpid()]))
    assert not server_state(tmp_path).leftover
