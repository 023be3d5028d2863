"""The laptop publishes: ``escher extend sync-settings``, and any command that changes a setting while a cloud
is extended (here the remediation switch), to the state storage named by the stack's outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.config import Paths, resolve_paths
from escher.extend.settings_doc import SETTINGS_KEY, PublishedSettings, settings_from_document
from escher.infra.driver import LocalState, save_outputs
from escher.infra.sync import pending, sync_settings
from escher.pipeline.objects import open_objects

SLACK = "slack://T000/B000/sync-secret-token"


@pytest.fixture
def extended(escher_home: Path) -> Paths:
    """An AWS extension as 'escher extend aws' leaves it, with a local directory standing in for the bucket."""
    paths = resolve_paths()
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(f'[notify.channels.slack]\nurl = "{SLACK}"\n', encoding="utf-8")
    save_outputs(
        paths, "aws", {"state_url": str(escher_home / "bucket"), "credentials_path": "/escher/credentials"}
    )
    local = LocalState.load(paths)
    local.clouds["aws"] = {"mode": "thin-client"}
    local.save()
    return paths


def published(escher_home: Path) -> Any:
    doc = PublishedSettings(open_objects(str(escher_home / "bucket")), max_age=0).current()
    assert doc is not None
    return doc


class Writer:
    def __init__(self) -> None:
        self.written: dict[str, str] = {}

    def __call__(self, cloud: str, prefix: str) -> Any:
        def build(outputs: Mapping[str, Any]) -> Writer:
            assert outputs["credentials_path"] == "/escher/credentials"
            return self

        return build

    def write(self, name: str, value: str) -> None:
        self.written[name] = value


def test_sync_writes_secrets_once_and_publishes_only_changes(extended: Paths, escher_home: Path) -> None:
    writer = Writer()
    [first] = sync_settings(extended, writer=writer, env={})
    assert (first.version, first.changed, first.secrets_written) == (1, True, ["notify-slack"])
    assert writer.written == {"notify-slack": SLACK}
    assert SLACK not in (escher_home / "bucket" / SETTINGS_KEY).read_text()
    writer.written.clear()
    [again] = sync_settings(extended, writer=writer, env={})
    assert (again.version, again.changed, again.secrets_written) == (1, False, [])
    assert writer.written == {} and pending(extended, {}) == []


def test_nothing_extended_is_said(escher_home: Path) -> None:
    from escher.infra.program import InfraError

    with pytest.raises(InfraError, match="no cloud is extended"):
        sync_settings(resolve_paths(), writer=Writer(), env={})


def test_a_switch_changed_while_extended_reaches_the_cloud(
    extended: Paths, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_settings(extended, writer=Writer(), env={})
    # the CLI's own writer would reach SSM; nothing secret changed, so it is not called
    result = CliRunner().invoke(app, ["remediation", "enable", "make_public_buckets_private"])
    assert result.exit_code == 0, result.output
    doc = published(escher_home)
    assert doc.version == 2
    remediation = settings_from_document(doc).extensions["remediation"]
    assert remediation["make_public_buckets_private"] is True
    record = json.loads((extended.data_dir / "extend" / "aws-settings.json").read_text())
    assert record["version"] == 2 and record["sha256"] == doc.sha256


def test_sync_settings_by_hand(extended: Paths, escher_home: Path) -> None:
    sync_settings(extended, writer=Writer(), env={})
    extended.config_file.write_text(
        extended.config_file.read_text() + '\n[general]\ntimezone = "Asia/Tokyo"\n', encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["--output", "json", "extend", "sync-settings"])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)["published"]
    assert entry["cloud"] == "aws" and entry["version"] == 2 and entry["changed"] is True
    assert settings_from_document(published(escher_home)).general.timezone == "Asia/Tokyo"


def test_an_unknown_target_is_refused(escher_home: Path) -> None:
    result = CliRunner().invoke(app, ["extend", "sync-setting"])
    assert result.exit_code == 2 and "sync-settings" in result.output
