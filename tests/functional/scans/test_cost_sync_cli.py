"""`escher cost sync` on moto's Cost Explorer: the day's snapshot is stored where the report reads it, a
second run makes no billing call, and a cloud whose billing is not configured is named with what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.emulators import MotoEmulator
from escher.scans.persist import JsonFileStore


@pytest.fixture
def json_store(escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> JsonFileStore:
    import escher.lazy

    real = escher.lazy.is_installed
    monkeypatch.setattr(escher.lazy, "is_installed", lambda name: name != "psycopg" and real(name))
    return JsonFileStore(escher_home / "data" / "reports")


def test_cost_sync_stores_the_day_once(aws_env: MotoEmulator, json_store: JsonFileStore) -> None:
    run = CliRunner().invoke(app, ["cost", "sync", "--cloud", "aws", "--day", "2026-12-06", "-o", "json"])
    assert run.exit_code == 0, run.output
    out = json.loads(run.stdout)
    assert out["fetched"] and [s["cloud"] for s in out["snapshots"]] == ["aws"]
    assert json_store.get("cost", "aws-2026-12-06") is not None
    again = CliRunner().invoke(app, ["cost", "sync", "--cloud", "aws", "--day", "2026-12-06", "-o", "json"])
    assert again.exit_code == 0 and not json.loads(again.stdout)["fetched"]


def test_cost_sync_names_an_unconfigured_cloud(aws_env: MotoEmulator, json_store: JsonFileStore) -> None:
    run = CliRunner().invoke(app, ["cost", "sync", "--cloud", "aws", "--cloud", "gcp", "-o", "json"])
    out = json.loads(run.stdout)
    assert run.exit_code == 0 and [s["cloud"] for s in out["snapshots"]] == ["aws"]
    assert out["missing"] and out["missing"][0].startswith("gcp:")


def test_an_sdk_error_on_billing_is_listed_not_raised(
    aws_env: MotoEmulator, json_store: JsonFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.scans.cost import sync

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: the SDK's own error
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = sync(["aws"], json_store)
    assert result.snapshots == [] and result.missing and result.missing[0].startswith("aws:")
