"""The five collections: typed records in, the same records out, filtered by metadata, found by meaning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from escher.audit import AuditRecord
from escher.config import Paths
from escher.store.models import (
    AlertRecord,
    ChatMessage,
    Collection,
    InventoryItem,
    OperationRecord,
    ReportRecord,
    SearchFilter,
)
from escher.store.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _estate() -> list[InventoryItem]:
    return [
        InventoryItem(resource_id="arn:aws:ec2:us-east-1:111:instance/i-1", resource_type="aws.ec2.instance",
                      name="dev-web-1", state="running", tags={"env": "dev"}, cloud="aws", account="111",
                      region="us-east-1", at=T0),
        InventoryItem(resource_id="arn:aws:s3:::public-logs", resource_type="aws.s3.bucket",
                      name="public-logs", tags={"team": "data"}, cloud="aws", account="111",
                      region="us-east-1", properties={"acl": "public-read"}, at=T0 + timedelta(days=1)),
        InventoryItem(resource_id="/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/vm1",
                      resource_type="azure.compute.vm", name="prod-api", state="running",
                      tags={"env": "production"}, cloud="azure", account="s1", region="westeurope",
                      at=T0 + timedelta(days=2)),
        InventoryItem(resource_id="projects/p1/zones/us-central1-a/instances/batch-7",
                      resource_type="gcp.compute.instance", name="batch-7", state="TERMINATED",
                      cloud="gcp", account="p1", region="us-central1", at=T0 + timedelta(days=3)),
    ]  # fmt: skip


def test_every_collection_round_trips_typed_records(store: Store) -> None:
    records = [
        *_estate(),
        ChatMessage(conversation_id="c1", role="user", content="which VMs are idle?", at=T0),
        OperationRecord(
            operation="aws.ec2.stop_instances",
            target="i-1",
            status="succeeded",
            summary="stopped dev-web-1",
            cloud="aws",
            account="111",
            at=T0,
        ),
        ReportRecord(
            report_kind="cost_snapshot",
            name="AWS daily cost 2026-01-01",
            cloud="aws",
            account="111",
            data={"total": 12.5},
            at=T0,
        ),
        ReportRecord(report_kind="compliance", name="CIS AWS 1.5", summary="3 failed controls", at=T0),
        AlertRecord(
            alert_kind="rule", name="public-bucket", severity="critical", summary="bucket made public"
        ),
        AlertRecord(alert_kind="morning_report", name="2026-01-02", summary="2 idle VMs, cost +12%"),
        AuditRecord(actor="user:alice", action="aws.ec2.stop_instances", target="i-1", outcome="succeeded"),
    ]
    assert store.put_many(records) == len(records)
    for record in records:
        collection = Collection.reports if isinstance(record, AuditRecord) else record.collection
        key = record.record_id if isinstance(record, AuditRecord) else record.key
        assert store.get(collection, key) == record
    status = store.status()
    assert status.counts == {"inventory": 4, "chat": 1, "operations": 1, "reports": 3, "alerts": 2}
    assert status.chains == {"audit": 1, "cost": 1, "compliance": 1}
    assert status.pgvector_version.startswith("0.")


def test_unchanged_record_is_not_rewritten_and_a_changed_one_replaces_it(store: Store) -> None:
    item = _estate()[0]
    assert store.put(item) is True
    assert store.put(item) is False
    stopped = item.model_copy(update={"state": "stopped"})
    assert store.put(stopped) is True
    assert store.get(Collection.inventory, item.key) == stopped
    assert store.status().counts["inventory"] == 1


def test_metadata_filters_select_by_cloud_account_region_type_and_time(store: Store) -> None:
    store.put_many(_estate())
    assert {r.key for r in store.records("inventory", SearchFilter(cloud="aws"))} == {  # type: ignore[union-attr]
        "arn:aws:ec2:us-east-1:111:instance/i-1", "arn:aws:s3:::public-logs"}  # fmt: skip
    assert [r.name for r in store.records("inventory", SearchFilter(resource_type="azure.compute.vm"))] == [  # type: ignore[union-attr]
        "prod-api"
    ]
    assert len(store.records("inventory", SearchFilter(account="p1", region="us-central1"))) == 1
    window = SearchFilter(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert [r.name for r in store.records("inventory", window)] == ["prod-api", "public-logs"]  # type: ignore[union-attr]


def test_hybrid_search_finds_paraphrases_and_respects_filters(store: Store) -> None:
    store.put_many(_estate())
    hits = store.search("world readable storage container")
    assert hits[0].doc_id == "inventory/arn:aws:s3:::public-logs"
    hits = store.search("development virtual machines", SearchFilter(cloud="aws"))
    assert hits[0].title.endswith("dev-web-1")
    assert all(h.cloud == "aws" for h in hits)
    azure_only = store.search("running server", SearchFilter(cloud="azure", region="westeurope"))
    assert [h.title for h in azure_only] == ["azure.compute.vm prod-api"]
    assert store.search("running server", SearchFilter(collections=(Collection.chat,))) == []


def test_search_over_reports_and_audit(store: Store) -> None:
    store.put(AuditRecord(actor="user:alice", action="azure.compute.deallocate", target="vm1",
                          outcome="succeeded", cloud="azure"))  # fmt: skip
    store.put(ReportRecord(report_kind="cost_snapshot", name="GCP billing export", summary="spend rose 40%"))
    hits = store.search("who powered off the vm", SearchFilter(collections=(Collection.reports,)))
    assert hits[0].kind == "audit"
    hits = store.search("cost spike", SearchFilter(kinds=("cost_snapshot",)))
    assert hits[0].title == "GCP billing export"


def test_changing_embedder_requires_reindex(pg_database: str, store_paths: Paths) -> None:
    with Store.open(paths=store_paths, url=pg_database, embedder="hashing-syn") as store:
        store.put_many(_estate())
    with Store.open(paths=store_paths, url=pg_database, embedder="hashing") as store:
        with pytest.raises(Exception, match="reindex"):
            store.search("idle vm")
        assert store.reindex() == 4
        assert store.search("dev web")[0].title.endswith("dev-web-1")


def test_migrations_are_applied_once_and_an_edited_one_is_refused(
    pg_database: str, store_paths: Paths
) -> None:
    with Store.open(paths=store_paths, url=pg_database):
        pass
    with Store.open(paths=store_paths, url=pg_database) as store:
        from escher.store.migrate import packaged_migrations

        assert store.status().schema_version == packaged_migrations()[-1].version >= 2
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("UPDATE escher_migrations SET checksum = 'x' WHERE version = 1")
    with pytest.raises(Exception, match="changed after it was applied"):
        Store.open(paths=store_paths, url=pg_database)


def test_unreachable_database_says_what_to_do(store_paths: Paths) -> None:
    from escher.store.errors import StoreUnavailableError

    with pytest.raises(StoreUnavailableError) as info:
        Store.open(paths=store_paths, url="postgresql://nobody@127.0.0.1:1/none")
    assert "ESCHER_DATABASE_URL" in (info.value.hint or "")
