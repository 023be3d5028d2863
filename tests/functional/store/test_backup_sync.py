"""Backups to object storage restored on another machine; Extend-mode sync between two laptops and a bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from escher.audit import AuditRecord
from escher.config import Paths
from escher.emulators import EmbeddedPostgres
from escher.state import ObjectStore, open_state
from escher.store.backup import backup_if_due, backup_now, list_backups, restore
from escher.store.models import ChatMessage, Collection, InventoryItem, ReportRecord
from escher.store.store import Store
from escher.store.sync import sync


def _item(i: int, state: str = "running") -> InventoryItem:
    return InventoryItem(resource_id=f"i-{i}", resource_type="aws.ec2.instance", name=f"web-{i}", state=state,
                         cloud="aws")  # fmt: skip


@pytest.fixture
def s3_state(aws_env: object) -> ObjectStore:
    from escher.clouds import aws

    bucket = f"escher-backups-{uuid.uuid4().hex[:8]}"
    aws.client("s3", "us-east-1", retries={"max_attempts": 1}).create_bucket(Bucket=bucket)
    return open_state(f"s3://{bucket}/laptop")


def test_backup_restores_on_another_machine_into_the_embedded_store(
    pg_database: str, store_paths: Paths, s3_state: ObjectStore, tmp_path: Path
) -> None:
    with Store.open(paths=store_paths, url=pg_database) as store:
        store.put_many([_item(i) for i in range(20)])
        store.put_many(AuditRecord(actor="u", action="a", target=str(i), outcome="info") for i in range(30))
    info = backup_now(pg_database, store_paths, s3_state)
    assert [b.backup_id for b in list_backups(s3_state)] == [info.backup_id]
    assert backup_if_due(pg_database, store_paths, s3_state) is None  # less than an hour ago

    other = Paths(tmp_path / "b-config", tmp_path / "b-data")  # a second machine: nothing there yet
    other.data_dir.mkdir(parents=True)
    assert restore(other, s3_state).backup_id == info.backup_id
    with Store.open(paths=other, url=None) as restored:
        assert restored.status().backend == "embedded"
        assert restored.status().counts["inventory"] == 20
        report = restored.verify()
        assert report.ok, report.issues
        assert report.chains[0].records == 30 and report.chains[0].checkpoints >= 1
        assert restored.search("web server")[0].collection is Collection.inventory


def test_restore_refuses_an_altered_backup(pg_database: str, store_paths: Paths, tmp_path: Path) -> None:
    state = open_state(f"file://{tmp_path / 'bucket'}")
    with Store.open(paths=store_paths, url=pg_database) as store:
        store.put(_item(1))
    info = backup_now(pg_database, store_paths, state)
    archive = tmp_path / "bucket" / "backups" / f"{info.backup_id}.tar"
    archive.write_bytes(archive.read_bytes()[:-10])
    with pytest.raises(Exception, match="does not match its recorded SHA-256"):
        restore(Paths(tmp_path / "c", tmp_path / "d"), state)


@pytest.fixture
def second_database(postgres: EmbeddedPostgres) -> Iterator[str]:
    name = f"laptop_b_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url(name)
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_laptops_sync_through_the_bucket_without_loss_or_duplicates(
    pg_database: str, second_database: str, tmp_path: Path
) -> None:
    bucket = open_state(f"file://{tmp_path / 'bucket'}")
    paths_a = Paths(tmp_path / "a", tmp_path / "a-data")
    paths_b = Paths(tmp_path / "b", tmp_path / "b-data")
    with Store.open(paths=paths_a, url=pg_database) as a, Store.open(paths=paths_b, url=second_database) as b:
        a.put_many([_item(1), _item(2), ChatMessage(conversation_id="c", role="user", content="hi")])
        a.put(AuditRecord(record_id="audit-a", actor="a", action="x", target="t", outcome="info"))
        b.put_many([_item(3), ReportRecord(record_id="cost-b", report_kind="cost_snapshot", name="daily")])
        b.put(AuditRecord(record_id="audit-b", actor="b", action="y", target="t", outcome="info"))
        b.put(_item(2, state="stopped"))  # laptop B saw i-2 stop later: the newer version must win

        first_a, first_b, second_a = sync(a, bucket), sync(b, bucket), sync(a, bucket)
        assert (first_a.pushed, first_a.pulled) == (4, 0)
        assert first_b.pushed == 4 and first_b.pulled == 4
        assert second_a.pulled == 4 and second_a.pushed == 0
        assert (sync(a, bucket).pushed, sync(a, bucket).pulled, sync(b, bucket).pulled) == (0, 0, 0)

        for store in (a, b):
            status = store.status()
            assert status.counts["inventory"] == 3 and status.counts["chat"] == 1
            assert status.chains == {"audit": 2, "cost": 1}
            assert store.get(Collection.inventory, "i-2").state == "stopped"  # type: ignore[union-attr]
            assert store.verify().ok
    objects = [o.key for o in bucket.list("records/")]
    # A: i-1, i-2 (running), chat, audit-a; B: i-3, i-2 (stopped), cost-b, audit-b -- each once
    assert len(objects) == len(set(objects)) == 8
