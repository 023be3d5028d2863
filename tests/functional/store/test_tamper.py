"""Tampering by the database's own superuser (through its socket), each refused by the database or named by verify.

The attacker owns the database: disables or drops triggers, inserts keys and purge markers, rewrites every hash,
changes the store's identity, rolls the data back or erases it. What the attacker does not have is the signing
key (in the data dir, 0600) and the anchors kept outside the database (the anchor dir, and a bucket when one is
configured). Each test builds a small ledger of three signed batches, tampers, and checks exactly what verify says.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from escher.audit import AuditRecord
from escher.config import Paths
from escher.store.keys import SigningKey
from escher.store.ledger import chain_hash, purge_message
from escher.store.models import canonical_json
from escher.store.store import Store

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BATCHES, PER = 3, 10
LAST = BATCHES * PER


def _records(first: int, n: int) -> list[AuditRecord]:
    return [
        AuditRecord(
            record_id=f"r{i:03d}",
            at=T0 + timedelta(minutes=i),
            actor="user:alice",
            action="aws.s3.put_bucket_versioning",
            target=f"arn:aws:s3:::bucket-{i}",
            outcome="succeeded",
            cloud="aws",
        )
        for i in range(first, first + n)
    ]


def _build(paths: Paths, url: str | None) -> None:
    with Store.open(paths=paths, url=url) as store:
        for b in range(BATCHES):
            store.put_many(_records(b * PER + 1, PER))


@pytest.fixture
def ledger(pg_database: str, store_paths: Paths) -> tuple[str, Paths]:
    _build(store_paths, pg_database)
    return pg_database, store_paths


def _issues(url: str | None, paths: Paths) -> list[tuple[str, int]]:
    with Store.open(paths=paths, url=url) as store:
        report = store.verify()
    _issues.details = [i.detail for i in report.issues]  # type: ignore[attr-defined]
    return [(i.kind, i.seq) for i in report.issues]


def _details() -> str:
    return "\n".join(_issues.details)  # type: ignore[attr-defined]


def _sql(url: str, *statements: str, params: tuple[object, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
            True,
        )
        for sql in statements:
            conn.execute(sql.encode() if not params else sql, params or None)


def _forge_row(url: str, seq: int, record_id: str) -> None:
    """A plain INSERT with a valid chain hash, as the superuser would write it (no signing key)."""
    with psycopg.connect(url, autocommit=True) as conn:
        prev = conn.execute(
            "SELECT hash FROM reports WHERE chain = 'audit' AND seq = %s", (seq - 1,)
        ).fetchone()
        assert prev is not None
        record = AuditRecord(record_id=record_id, actor="user:mallory", action="aws.iam.attach_user_policy",
                             target="arn:aws:iam::123:user/mallory", outcome="succeeded", cloud="aws")  # fmt: skip
        payload = canonical_json({"collection": "audit", **record.model_dump(mode="json")})
        conn.execute(
            "INSERT INTO reports (chain, seq, record_id, kind, at, payload, prev_hash, hash)"
            " VALUES ('audit', %s, %s, 'audit', now(), %s, %s, %s)",
            (seq, record_id, payload, prev[0], chain_hash(prev[0], payload)),
        )


# -- refused by the database --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE reports SET payload = replace(payload, 'succeeded', 'failed') WHERE seq = 5",
        "DELETE FROM reports WHERE seq = 5",
        "TRUNCATE reports",
        "DELETE FROM ledger_checkpoints",
        "UPDATE ledger_purges SET removed = 0",
    ],
)
def test_plain_and_replica_role_changes_are_refused(ledger: tuple[str, Paths], sql: str) -> None:
    url, paths = ledger
    for role in ("origin", "replica"):  # replica skips ordinary triggers: ours fire ALWAYS
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            _sql(url, f"SET session_replication_role = {role}", sql)
    assert _issues(url, paths) == []


# -- detected by verify -------------------------------------------------------------------------------------
def test_edit_with_the_trigger_disabled_is_named(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    _sql(url, "ALTER TABLE reports DISABLE TRIGGER USER",
         "UPDATE reports SET payload = replace(payload, 'succeeded', 'failed') WHERE seq = 12")  # fmt: skip
    assert _issues(url, paths) == [("edited", 12)]
    assert "r012" in _details()


def test_delete_with_the_trigger_dropped_is_named(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    _sql(url, "DROP TRIGGER reports_append_only ON reports", "DELETE FROM reports WHERE seq = 15")
    assert _issues(url, paths) == [("deleted", 15)]


def test_truncate_with_triggers_disabled_is_named_erased(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    _sql(url, "ALTER TABLE reports DISABLE TRIGGER USER", "TRUNCATE reports")
    assert _issues(url, paths) == [("erased", 1)]
    assert f"up to seq {LAST}" in _details() and "anchors.jsonl" in _details()


def test_reorder_is_named(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    _sql(url, "ALTER TABLE reports DISABLE TRIGGER USER",
         "UPDATE reports SET seq = 999 WHERE seq = 14", "UPDATE reports SET seq = 14 WHERE seq = 15",
         "UPDATE reports SET seq = 15 WHERE seq = 999")  # fmt: skip
    issues = _issues(url, paths)
    assert {k for k, _ in issues} == {"reordered"} and {s for _, s in issues} >= {14, 15}


def test_forged_append_is_named(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    _forge_row(url, LAST + 1, "forged-1")
    assert _issues(url, paths) == [("forged", LAST + 1)]
    assert "forged-1" in _details() and "inserted directly" in _details()


def test_forged_append_stays_forged_after_a_legitimate_write_chains_onto_it(
    ledger: tuple[str, Paths],
) -> None:
    url, paths = ledger
    _forge_row(url, LAST + 1, "forged-1")
    _forge_row(url, LAST + 2, "forged-2")
    with Store.open(paths=paths, url=url) as store:  # the next command signs its batch and anchors the head
        store.put_many(_records(LAST + 3, 2))
    assert _issues(url, paths) == [("forged", LAST + 1)]
    assert f"records {LAST + 1}..{LAST + 2} (from forged-1)" in _details()


def _attacker_purge(url: str, through: int) -> None:
    """Delete a prefix the way retention does, then leave a marker signed by a key the attacker inserted."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = SigningKey(ed25519.Ed25519PrivateKey.generate())
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        row = conn.execute(
            "SELECT hash FROM reports WHERE chain = 'audit' AND seq = %s", (through,)
        ).fetchone()
        assert row is not None
        conn.execute("SELECT set_config('escher.purge_chain', 'audit', true)")
        conn.execute("SELECT set_config('escher.purge_through', %s, true)", (str(through),))
        conn.execute("DELETE FROM reports WHERE chain = 'audit' AND seq <= %s", (through,))
        conn.execute(
            "INSERT INTO ledger_keys (key_id, public_key) VALUES (%s, %s)", (key.key_id, key.public_key_b64)
        )
        at = datetime.now(UTC).isoformat()
        conn.execute(
            "INSERT INTO ledger_purges (chain, through_seq, through_hash, removed, at, key_id, signature)"
            " VALUES ('audit', %s, %s, %s, %s, %s, %s)",
            (through, row[0], through, at, key.key_id, key.sign(purge_message("audit", through, row[0], through, at))),
        )  # fmt: skip


def test_prefix_purged_under_a_marker_signed_with_an_inserted_key_is_named(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    _attacker_purge(url, 10)
    assert _issues(url, paths) == [("forged", 10), ("deleted", 1)]
    assert "is not pinned" in _details() and "records 1..10 were deleted" in _details()


def test_whole_chain_erased_under_a_forged_marker_is_named(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    _attacker_purge(url, LAST)
    assert _issues(url, paths) == [("forged", LAST), ("erased", 1)]


def test_full_rewrite_with_identity_change_is_named(ledger: tuple[str, Paths]) -> None:
    """Every payload changed and re-hashed, the database checkpoints deleted, the store identity replaced."""
    url, paths = ledger
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT seq, payload FROM reports WHERE chain = 'audit' ORDER BY seq").fetchall()
        conn.execute("ALTER TABLE reports DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER")
        prev = "0" * 64
        for seq, payload in rows:
            forged = payload.replace("succeeded", "failed")
            digest = chain_hash(prev, forged)
            conn.execute(
                "UPDATE reports SET payload = %s, prev_hash = %s, hash = %s, batch_from = NULL, key_id = NULL,"
                " signature = NULL WHERE chain = 'audit' AND seq = %s",
                (forged, prev, digest, seq),
            )
            prev = digest
        conn.execute("DELETE FROM ledger_checkpoints")
        conn.execute("UPDATE store_identity SET id = 'someone-else'")
    issues = _issues(url, paths)
    assert ("forged", 1) in issues  # no signed batch covers the rewritten rows
    assert {s for k, s in issues if k == "rewritten"} == {PER, 2 * PER, LAST}  # each anchored head differs
    assert "anchors.jsonl" in _details()


def test_rewrite_that_keeps_the_signatures_is_named(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT seq, payload FROM reports WHERE chain = 'audit' ORDER BY seq").fetchall()
        conn.execute("ALTER TABLE reports DISABLE TRIGGER USER")
        prev = "0" * 64
        for seq, payload in rows:
            digest = chain_hash(prev, payload.replace("alice", "bob"))
            conn.execute("UPDATE reports SET payload = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                         (payload.replace("alice", "bob"), prev, digest, seq))  # fmt: skip
            prev = digest
    issues = _issues(url, paths)
    # each batch's signature no longer matches, so no signed batch covers any row of the chain
    assert {s for k, s in issues if k == "forged"} == {1, PER, 2 * PER, LAST}
    assert "invalid signature" in _details() and f"records 1..{LAST}" in _details()


def test_a_replaced_signing_key_is_refused(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    from escher.store.errors import StoreError
    from escher.store.keys import key_path

    key_path(paths.data_dir).unlink()
    with Store.open(paths=paths, url=url):  # the data dir lost its key: a new one is made and pinned
        pass
    assert [k for k, _ in _issues(url, paths)] == []  # old batches still verify under the old pinned key
    other = paths.data_dir.parent / "other"
    with Store.open(paths=Paths(paths.config_dir.parent / "cfg2", other), url=url):
        pass
    key_path(paths.data_dir).write_bytes(key_path(other).read_bytes())  # someone else's key put in its place
    with pytest.raises(StoreError, match="not a pinned key"):
        Store.open(paths=paths, url=url)


# -- the data dir itself: rollback and replacement, with the embedded server --------------------------------
def _copy(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)  # keeps the server user's ownership


def test_rollback_to_an_older_copy_of_the_data_dir_is_named(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "cfg", tmp_path / "data")
    with Store.open(paths=paths, url=None) as store:
        store.put_many(_records(1, 5))
    _copy(paths.data_dir, tmp_path / "older")
    with Store.open(paths=paths, url=None) as store:
        store.put_many(_records(6, 5))
        assert store.verify().ok
    subprocess.run(["rm", "-rf", str(paths.data_dir)], check=True)
    _copy(tmp_path / "older", paths.data_dir)
    assert _issues(None, paths) == [("rollback", 6)]
    assert "older copy" in _details() and "records 6..10 are missing" in _details()

    subprocess.run(
        ["rm", "-rf", str(paths.data_dir / "postgres")], check=True
    )  # now replaced by an empty one
    assert _issues(None, paths) == [("erased", 1)]


def test_the_bucket_anchor_still_names_a_truncation_after_the_local_anchors_are_deleted(
    pg_database: str, store_paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attacker also deletes the anchor file and the data dir's checkpoints: the bucket's copy remains
    (on S3 Object Lock / Azure immutability / GCS retention, nobody can delete it before its retention ends)."""
    bucket = f"file://{tmp_path / 'audit-bucket'}"
    monkeypatch.setenv("ESCHER_AUDIT_URL", bucket)
    _build(store_paths, pg_database)
    assert list(
        (tmp_path / "audit-bucket" / "ledger-anchors").rglob("*.json")
    )  # one object per command's head
    _sql(pg_database, "ALTER TABLE reports DISABLE TRIGGER USER", "ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER",
         f"DELETE FROM reports WHERE seq > {2 * PER}", "DELETE FROM ledger_checkpoints")  # fmt: skip
    (store_paths.config_dir / "ledger" / "anchors.jsonl").unlink()
    (store_paths.data_dir / "ledger" / "checkpoints.jsonl").unlink()
    assert _issues(pg_database, store_paths) == [("truncated", 2 * PER + 1)]  # no local trace is left
    assert bucket in _details() and f"{2 * PER + 1}..{LAST}" in _details()


def test_a_ledger_from_before_signed_batches_verifies_through_its_old_checkpoints(
    ledger: tuple[str, Paths],
) -> None:
    """Rows written before migration 0002 carry no batch signature: the checkpoints signed then (version 1)
    vouch for them; a row forged after the last of those is still named, and a head signed today never adopts it."""
    from escher.store.keys import load_or_create
    from escher.store.ledger import checkpoint_message

    url, paths = ledger
    key = load_or_create(paths.data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE reports DISABLE TRIGGER USER")
        conn.execute("UPDATE reports SET batch_from = NULL, key_id = NULL, signature = NULL")
        head = conn.execute("SELECT hash FROM reports WHERE chain = 'audit' AND seq = %s", (LAST,)).fetchone()
        assert head is not None
        at = "2026-03-01T12:00:00+00:00"
        old = key.sign(checkpoint_message("audit", LAST, head[0], at, version=1))
        conn.execute("ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER")
        conn.execute("DELETE FROM ledger_checkpoints")
        conn.execute(
            "INSERT INTO ledger_checkpoints (chain, seq, hash, at, key_id, signature)"
            " VALUES ('audit', %s, %s, %s, %s, %s)",
            (LAST, head[0], at, key.key_id, old),
        )
    (paths.config_dir / "ledger" / "anchors.jsonl").unlink()  # as on the day of the upgrade: no anchors yet
    assert _issues(url, paths) == []

    _forge_row(url, LAST + 1, "forged-after-upgrade")
    with Store.open(paths=paths, url=url) as store:  # a legitimate command anchors the head (version 2)
        store.put_many(_records(LAST + 2, 1))
    assert _issues(url, paths) == [("forged", LAST + 1)]


def test_heads_are_anchored_on_an_object_lock_bucket(
    aws_env: object, pg_database: str, store_paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Extend mode's audit bucket (S3 Object Lock, compliance retention) takes the anchors, and verify reads them.
    (moto stores the lock; that nobody can delete before retention ends is the provider's promise.)"""
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="escher-audit-worm", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket="escher-audit-worm",
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled",
                                 "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}}},
    )  # fmt: skip
    monkeypatch.setenv("ESCHER_AUDIT_URL", "s3://escher-audit-worm/laptop")
    _build(store_paths, pg_database)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="escher-audit-worm")["Contents"]]
    (anchor,) = [k for k in keys if k.startswith("laptop/ledger-anchors/")]
    assert f"/audit/{LAST:015d}-" in anchor
    assert [k for k in keys if k != anchor] == [f"laptop/ledger-keys/{_pinned_key_id(store_paths)}.pub"]
    _sql(pg_database, "ALTER TABLE reports DISABLE TRIGGER USER", "TRUNCATE reports")
    (store_paths.config_dir / "ledger" / "anchors.jsonl").unlink()
    assert _issues(pg_database, store_paths) == [("erased", 1)]
    assert "s3://escher-audit-worm/laptop" in _details()


def test_an_anchor_dir_that_cannot_be_written_is_a_clear_error(
    pg_database: str, store_paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.store.errors import StoreError

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("ESCHER_ANCHOR_DIR", str(blocker / "ledger"))
    with pytest.raises(StoreError, match="cannot pin the ledger's public key") as info:
        Store.open(paths=store_paths, url=pg_database)
    assert "ESCHER_ANCHOR_DIR" in (info.value.hint or "")


def test_deleting_the_row_that_signed_a_batch_is_named_as_a_deletion(ledger: tuple[str, Paths]) -> None:
    url, paths = ledger
    _sql(url, "ALTER TABLE reports DISABLE TRIGGER USER", f"DELETE FROM reports WHERE seq = {2 * PER}")
    assert _issues(url, paths) == [("deleted", 2 * PER)]
    assert f"records {PER + 1}..{2 * PER - 1} can no longer be vouched for" in _details()


def _pinned_key_id(paths: Paths) -> str:
    (line,) = (paths.config_dir / "ledger" / "ledger-keys.pub").read_text().splitlines()
    return line.split()[0]


def _rewrite_and_resign(url: str, paths: Paths) -> SigningKey:
    """The attacker with your files: every payload changed and re-hashed, each batch re-signed with a new key
    that replaces the key file and the local pin file, the local anchors and checkpoints deleted."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from escher.store.keys import key_path, pin, pin_file
    from escher.store.ledger import batch_message

    private = Ed25519PrivateKey.generate()
    key = SigningKey(private)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT seq, payload, batch_from, signature FROM reports WHERE chain = 'audit' ORDER BY seq"
        ).fetchall()
        conn.execute("ALTER TABLE reports DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER")
        prev = "0" * 64
        for seq, payload, batch_from, signature in rows:
            forged = payload.replace("succeeded", "failed")
            digest = chain_hash(prev, forged)
            signed = (
                (key.key_id, key.sign(batch_message("audit", batch_from, seq, digest))) if signature else None
            )
            conn.execute(
                "UPDATE reports SET payload = %s, prev_hash = %s, hash = %s, key_id = %s, signature = %s"
                " WHERE chain = 'audit' AND seq = %s",
                (forged, prev, digest, *(signed or (None, None)), seq),
            )
            prev = digest
        conn.execute("DELETE FROM ledger_checkpoints")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_path(paths.data_dir).write_bytes(pem)
    pin_file(paths.config_dir / "ledger").unlink()
    pin(paths.config_dir / "ledger", key)
    (paths.config_dir / "ledger" / "anchors.jsonl").unlink()
    (paths.data_dir / "ledger" / "checkpoints.jsonl").unlink()
    return key


def test_a_rewrite_resigned_with_a_new_key_and_pin_is_named_by_the_keys_pinned_in_the_bucket(
    aws_env: object, pg_database: str, store_paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locally the rewrite is consistent: new key, new pin, no anchors. The bucket still holds the old key, so
    its anchored head is checked with it (a rewrite, not an unverifiable head), and the new key is named as one
    the bucket never saw. Publishing the attacker's key too does not hide the rewrite: the old key stays."""
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="escher-audit-keys")
    monkeypatch.setenv("ESCHER_AUDIT_URL", "s3://escher-audit-keys/laptop")
    _build(store_paths, pg_database)
    old = _pinned_key_id(store_paths)
    assert _issues(pg_database, store_paths) == []

    key = _rewrite_and_resign(pg_database, store_paths)
    monkeypatch.delenv("ESCHER_AUDIT_URL")
    assert _issues(pg_database, store_paths) == []  # without the bucket, nothing local can tell
    monkeypatch.setenv("ESCHER_AUDIT_URL", "s3://escher-audit-keys/laptop")
    assert _issues(pg_database, store_paths) == [("unpinned_key", 0), ("rewritten", LAST)]
    assert f"key {key.key_id} is pinned locally but not pinned in the bucket" in _details()
    assert "s3://escher-audit-keys/laptop" in _details() and old != key.key_id

    s3.put_object(Bucket="escher-audit-keys", Key=f"laptop/ledger-keys/{key.key_id}.pub",
                  Body=f"{key.key_id} {key.public_key_b64}\n".encode())  # fmt: skip
    assert _issues(pg_database, store_paths) == [("rewritten", LAST)]
