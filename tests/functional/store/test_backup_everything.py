"""Backups of everything (issue 20): one hashed archive on S3 (moto) with the dump, approvals, alerts state,
schedules, templates, config, anchors and pinned public keys -- never the private signing key or tokens --
restored by ``escher backup restore`` into a fresh data dir whose ``escher audit verify`` passes; an archive
whose hash does not match is refused before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from escher.audit import AuditRecord
from escher.config import Paths
from escher.state import ObjectStore, open_state
from escher.store.backup import backup_if_due, backup_now, list_backups
from escher.store.store import Store

ESCHER = str(Path(sys.executable).parent / "escher")

FILES = {
    "data/approvals.json": '{"requests": []}',
    "data/templates.json": '{"templates": {}}',
    "data/schedule/schedules.json": '{"schedules": []}',
    "data/state/alerts/aws/a1.json": '{"alert_id": "a1"}',
    "config/templates/report.html.j2": "<h1>{{ title }}</h1>",
}
SECRETS = ("data/keys/ledger-ed25519.pem", "data/mcp/token", "data/brain/token")


@pytest.fixture
def bucket(aws_env: object) -> tuple[str, ObjectStore]:
    from escher.clouds import aws

    name = f"escher-backups-{uuid.uuid4().hex[:8]}"
    aws.client("s3", "us-east-1", retries={"max_attempts": 1}).create_bucket(Bucket=name)
    return f"s3://{name}/laptop", open_state(f"s3://{name}/laptop")


def _laptop(root: Path, state_url: str) -> Paths:
    paths = Paths(root / "config", root / "data")
    for name, text in FILES.items():
        folder, rest = name.split("/", 1)
        target = (paths.config_dir if folder == "config" else paths.data_dir) / rest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (paths.config_dir / "config.toml").write_text(
        f'[state]\nurl = "{state_url}"\n[backup]\ninterval_minutes = 30\n', encoding="utf-8"
    )
    for secret in ("mcp/token", "brain/token"):
        (paths.data_dir / secret).parent.mkdir(parents=True, exist_ok=True)
        (paths.data_dir / secret).write_text("s3cr3t", encoding="utf-8")
    return paths


def escher(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ESCHER, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def test_everything_restores_into_a_fresh_data_dir_with_a_verified_ledger(
    pg_database: str, bucket: tuple[str, ObjectStore], tmp_path: Path
) -> None:
    url, state = bucket
    paths = _laptop(tmp_path / "a", url)
    with Store.open(paths=paths, url=pg_database) as store:
        store.put_many(AuditRecord(actor="u", action="a", target=str(i), outcome="info") for i in range(12))
        store.ledger.checkpoint()
    info = backup_now(pg_database, paths, state)
    assert info.format == 2 and [b.backup_id for b in list_backups(state)] == [info.backup_id]
    manifest = json.loads(state.get(f"backups/{info.backup_id}.json").data)
    names = {f["name"] for f in manifest["files"]}
    assert set(FILES) | {"store.dump", "config/config.toml", "anchors/ledger-keys.pub"} <= names
    assert (paths.data_dir / "keys" / "ledger-ed25519.pem").exists()
    assert not names & set(SECRETS)  # the private key and tokens stay on the laptop
    from escher.store.backup import backup_interval

    assert backup_interval({"backup": {"interval_minutes": 30}}).total_seconds() == 1800
    assert backup_if_due(pg_database, paths, state) is None  # 30 minutes not passed

    fresh = tmp_path / "b"
    env = {k: v for k, v in os.environ.items() if k != "ESCHER_DATABASE_URL"}
    env |= {"ESCHER_CONFIG_DIR": str(fresh / "config"), "ESCHER_DATA_DIR": str(fresh / "data"),
            "ESCHER_STATE_URL": url}  # fmt: skip
    done = escher(env, "-o", "json", "backup", "restore", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    for name, text in FILES.items():
        folder, rest = name.split("/", 1)
        assert (fresh / folder / rest).read_text(encoding="utf-8") == text
    assert (fresh / "config" / "config.toml").exists()
    assert (fresh / "config" / "ledger" / "anchors.jsonl").exists()
    assert not (fresh / "data" / "mcp" / "token").exists()
    verify = escher(env, "-o", "json", "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_restore_refuses_an_archive_whose_hash_does_not_match(
    pg_database: str, bucket: tuple[str, ObjectStore], tmp_path: Path
) -> None:
    from escher.clouds import aws
    from escher.store.backup import restore

    url, state = bucket
    paths = _laptop(tmp_path / "a", url)
    with Store.open(paths=paths, url=pg_database) as store:
        store.put(AuditRecord(actor="u", action="a", target="t", outcome="info"))
    info = backup_now(pg_database, paths, state)
    s3 = aws.client("s3", "us-east-1", retries={"max_attempts": 1})
    name = url.removeprefix("s3://").split("/")[0]
    key = f"laptop/backups/{info.backup_id}.tar"
    body = bytearray(s3.get_object(Bucket=name, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    s3.put_object(Bucket=name, Key=key, Body=bytes(body))
    fresh = Paths(tmp_path / "c" / "config", tmp_path / "c" / "data")
    with pytest.raises(Exception, match="does not match its recorded SHA-256"):
        restore(fresh, state)
    assert not (fresh.data_dir / "approvals.json").exists()  # nothing written
