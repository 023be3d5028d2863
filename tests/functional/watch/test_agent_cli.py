"""``escher agent`` as a new user would run it on moto: one pass fixes a bucket made public (the watch round),
and ``escher agent install --no-enable`` / ``status`` / ``uninstall`` manage the service file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from escher.emulators import MotoEmulator

ESCHER = str(Path(sys.executable).parent / "escher")


def escher(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCHER, *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=180, check=False
    )


def test_one_agent_pass_fixes_a_public_bucket(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    (escher_home / "config").mkdir()
    (escher_home / "config" / "config.toml").write_text(
        '[aws]\nregions = ["us-east-1"]\n[remediation]\nmake_public_buckets_private = true\n',
        encoding="utf-8",
    )
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="shop-exports")
    s3.put_bucket_acl(Bucket="shop-exports", ACL="public-read")

    done = escher("agent", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    block = s3.get_public_access_block(Bucket="shop-exports")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    alerts = json.loads(escher("-o", "json", "alerts", "--all").stdout)
    assert [a["status"] for a in alerts if a["resource_name"] == "shop-exports"] == ["auto_resolved"]
    last = json.loads((escher_home / "data" / "agent" / "housekeeping.json").read_text())
    assert "watch" in last and "retention" in last


def test_install_status_uninstall_the_service_file(escher_home: Path, tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the systemd path is checked on Linux; the other platforms' files in tests/unit")
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    done = escher("-o", "json", "agent", "install", "--no-enable", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    unit = tmp_path / "xdg" / "systemd" / "user" / "escher-agent.service"
    assert result["installed"] and result["path"] == str(unit)
    assert f'ExecStart="{ESCHER}" "agent"' in unit.read_text()
    assert f"ESCHER_DATA_DIR={escher_home / 'data'}" in unit.read_text()
    assert json.loads(escher("-o", "json", "agent", "status", env=env).stdout)["installed"]
    gone = json.loads(escher("-o", "json", "agent", "uninstall", env=env).stdout)
    assert not gone["installed"] and not unit.exists()
    bad = escher("agent", "restart", env=env)
    assert bad.returncode == 2 and "install, uninstall or status" in bad.stderr + bad.stdout
