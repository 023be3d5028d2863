"""The immutable ledger: append-only in the database, and every tampering named by ``verify``.

Attacker model: a database superuser who disables the triggers and edits the tables directly. Each tampering
runs on a log of 10,000 audit records (built once with COPY, then cloned per test from a template database).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from escher.audit import AuditRecord
from escher.config import Paths, RetentionSettings
from escher.emulators import EmbeddedPostgres
from escher.store.models import ReportRecord
from escher.store.retention import purge
from escher.store.store import Store

N = 10_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _records(n: int) -> list[AuditRecord]:
    return [
        AuditRecord(
            record_id=f"r{i:05d}",
            at=T0 + timedelta(seconds=i),
            actor="worker:aws",
            action="aws.ec2.stop_instances",
            target=f"i-{i:05d}",
            outcome="succeeded",
            cloud="aws",
        )
        for i in range(1, n + 1)
    ]


@pytest.fixture(scope="module")
def big_ledger(
    postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """A template database holding 10,000 chained audit records, and the data dir with its key and checkpoints."""
    name = "ledger_template"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    data_dir = tmp_path_factory.mktemp("ledger") / "data"
    data_dir.mkdir()
    started = time.perf_counter()
    paths = Paths(data_dir.parent / "cfg", data_dir)
    with Store.open(paths=paths, url=postgres.url(name)) as store, store.bulk_index():
        store.put_many(_records(N))
    print(f"built {N} chained records in {time.perf_counter() - started:.1f}s")
    yield name, data_dir
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def ledger_copy(
    postgres: EmbeddedPostgres, big_ledger: tuple[str, Path], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Paths]]:
    template, data_dir = big_ledger
    name = "lc_" + request.node.name.lower()[:40].replace("[", "_").replace("]", "").replace("-", "_")
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    shutil.copytree(data_dir, tmp_path / "data")
    yield postgres.url(name), Paths(tmp_path / "cfg", tmp_path / "data")
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tamper(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE reports DISABLE TRIGGER USER")
        for sql in statements:
            conn.execute(sql)
        conn.execute("ALTER TABLE reports ENABLE TRIGGER USER")


def _verify(url: str, paths: Paths) -> list[tuple[str, int, str]]:
    with Store.open(paths=paths, url=url) as store:
        report = store.verify()
    return [(i.kind, i.seq, i.detail) for i in report.issues]


def test_untouched_log_verifies(ledger_copy: tuple[str, Paths]) -> None:
    url, paths = ledger_copy
    with Store.open(paths=paths, url=url) as store:
        report = store.verify()
    assert report.ok, report.issues
    audit = report.chains[0]
    assert (audit.records, audit.first_seq, audit.last_seq) == (N, 1, N)
    assert audit.checkpoints >= 1  # signed when a batch crosses a multiple of 1,000 and on close


def test_edited_record_is_named(ledger_copy: tuple[str, Paths]) -> None:
    url, paths = ledger_copy
    _tamper(url, "UPDATE reports SET payload = replace(payload, 'succeeded', 'failed') WHERE seq = 4321")
    issues = _verify(url, paths)
    assert [(k, s) for k, s, _ in issues] == [("edited", 4321)]
    assert "r04321" in issues[0][2]


def test_edited_and_rehashed_record_is_named(ledger_copy: tuple[str, Paths]) -> None:
    url, paths = ledger_copy
    with psycopg.connect(url) as conn:
        prev, payload = conn.execute("SELECT prev_hash, payload FROM reports WHERE seq = 777").fetchone()  # type: ignore[misc]
    from escher.store.ledger import chain_hash

    forged = payload.replace("succeeded", "failed")
    _tamper(
        url, f"UPDATE reports SET payload = '{forged}', hash = '{chain_hash(prev, forged)}' WHERE seq = 777"
    )
    assert [(k, s) for k, s, _ in _verify(url, paths)] == [("edited", 777)]


def test_deleted_record_is_named(ledger_copy: tuple[str, Paths]) -> None:
    url, paths = ledger_copy
    _tamper(url, "DELETE FROM reports WHERE chain = 'audit' AND seq = 5000")
    issues = _verify(url, paths)
    assert [(k, s) for k, s, _ in issues] == [("deleted", 5000)]
    assert "record 5000 deleted" in issues[0][2]


def test_reordered_records_are_named(ledger_copy: tuple[str, Paths]) -> None:
    url, paths = ledger_copy
    _tamper(
        url,
        "UPDATE reports SET seq = 999999 WHERE seq = 6000",
        "UPDATE reports SET seq = 6000 WHERE seq = 6001",
        "UPDATE reports SET seq = 6001 WHERE seq = 999999",
    )
    issues = _verify(url, paths)
    assert {k for k, _, _ in issues} == {"reordered"}
    assert {s for _, s, _ in issues} >= {6000, 6001}


def test_truncated_log_is_named(ledger_copy: tuple[str, Paths]) -> None:
    url, paths = ledger_copy
    _tamper(url, f"DELETE FROM reports WHERE chain = 'audit' AND seq > {N - 25}")
    issues = _verify(url, paths)
    assert [(k, s) for k, s, _ in issues] == [("truncated", N - 24)]
    assert f"{N - 24}..{N}" in issues[0][2]


def test_truncation_with_checkpoints_deleted_is_caught_by_the_file(ledger_copy: tuple[str, Paths]) -> None:
    url, paths = ledger_copy
    _tamper(url, f"DELETE FROM reports WHERE chain = 'audit' AND seq > {N - 1500}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER")
        conn.execute(f"DELETE FROM ledger_checkpoints WHERE seq > {N - 1500}")
    issues = _verify(url, paths)
    assert [k for k, _, _ in issues] == ["truncated"]
    assert "checkpoints.jsonl" in issues[0][2]


def test_forged_checkpoint_is_rejected(ledger_copy: tuple[str, Paths]) -> None:
    url, paths = ledger_copy
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ledger_checkpoints (chain, seq, hash, at, key_id, signature)"
            " SELECT chain, 20000, hash, at, key_id, signature FROM ledger_checkpoints LIMIT 1"
        )
    assert [k for k, _, _ in _verify(url, paths)] == ["bad_signature"]


def test_update_delete_and_truncate_are_refused_by_the_database(store: Store) -> None:
    store.put(AuditRecord(actor="u", action="a", target="t", outcome="info"))
    conn = store.connection
    for sql in (
        "UPDATE reports SET payload = '{}'",
        "DELETE FROM reports",
        "TRUNCATE reports",
        "DELETE FROM ledger_checkpoints",
        "UPDATE ledger_purges SET removed = 0",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(sql)
    assert store.verify().ok


def test_retention_purge_keeps_the_chain_verifiable_and_audits_itself(store: Store) -> None:
    now = datetime(2027, 6, 1, tzinfo=UTC)
    old = [
        ReportRecord(report_kind="cost_snapshot", name=f"cost {d}", at=now - timedelta(days=d))
        for d in (200, 150, 100, 95, 30, 1)
    ]
    store.put_many(old)
    store.put_many(
        AuditRecord(actor="u", action="x", target="t", outcome="info", at=now - timedelta(days=d))
        for d in (400, 380, 10)
    )
    results = purge(store, RetentionSettings(cost_days=90, audit_days=365), now=now)
    assert {(r.chain, r.through_seq, r.removed) for r in results} == {("cost", 4, 4), ("audit", 2, 2)}
    assert sorted(r.name for r in store.records("reports") if isinstance(r, ReportRecord)) == [
        "cost 1",
        "cost 30",
    ]
    purges = [
        r for r in store.records("reports") if isinstance(r, AuditRecord) and r.action.endswith("purge")
    ]
    assert {p.details["chain"] for p in purges} == {"cost", "audit"}
    report = store.verify()
    assert report.ok, report.issues
    assert purge(store, RetentionSettings(cost_days=90, audit_days=365), now=now) == []


def test_appends_from_two_stores_interleave_into_one_valid_chain(
    pg_database: str, store_paths: Paths
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def writer(tag: str) -> None:
        with Store.open(paths=store_paths, url=pg_database) as s:
            for i in range(50):
                s.audit_sink().append(AuditRecord(actor=tag, action="a", target=str(i), outcome="info"))

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(writer, tag) for tag in ("a", "b")]:
            future.result()  # a writer's failure fails the test
    with Store.open(paths=store_paths, url=pg_database) as s:
        report = s.verify()
    assert report.ok, report.issues
    assert report.chains[0].records == 100
