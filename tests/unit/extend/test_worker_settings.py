"""A worker with a state URL runs with the settings the laptop published there, not with an empty config; and
its daily job reports a failing part while the others carry on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from escher.config import Settings
from escher.extend.settings_doc import build_content, publish
from escher.pipeline import runtime
from escher.pipeline.objects import open_objects


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    runtime.reset()
    yield
    runtime.reset()


def worker_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty-config").mkdir(exist_ok=True)
    return {
        "ESCHER_STATE_URL": str(tmp_path / "state"),
        "ESCHER_CONFIG_DIR": str(tmp_path / "empty-config"),  # the cloud has no config.toml
        "ESCHER_DATA_DIR": str(tmp_path / "data"),
        "ESCHER_SETTINGS_MAX_AGE_SECONDS": "0",
    }


def published(tmp_path: Path, **sections: object) -> None:
    publish(open_objects(str(tmp_path / "state")), build_content(Settings.model_validate(sections), None, {}))


def test_the_switch_set_on_the_laptop_reaches_the_worker(tmp_path: Path) -> None:
    env = worker_env(tmp_path)
    assert runtime.build_pipeline("aws", env).remediation.make_public_buckets_private is False
    published(tmp_path, extensions={"remediation": {"make_public_buckets_private": True}})
    # the same warm process: the new version is seen at the next invocation and the pipeline rebuilt
    assert runtime.build_pipeline("aws", env).remediation.make_public_buckets_private is True


def test_what_to_scan_comes_from_the_published_settings(tmp_path: Path) -> None:
    env = worker_env(tmp_path)
    published(tmp_path, aws={"regions": ["eu-west-3"]}, gcp={"project": "acme"})
    settings, _ = runtime.effective_settings("aws", env, runtime.published_settings(env))
    assert settings.aws.regions == ["eu-west-3"] and settings.gcp.project == "acme"


def test_only_the_enabled_operations_are_tried(tmp_path: Path) -> None:
    env = {**worker_env(tmp_path), "ESCHER_OPERATIONS": "aws.s3.block_public_access"}
    fixes = runtime.build_pipeline("aws", env).remediations
    assert fixes is not None and {r.operation for r in fixes} == {"aws.s3.block_public_access"}
    assert runtime.build_pipeline("aws", worker_env(tmp_path)).remediations is None


def test_a_failing_part_of_the_daily_job_is_reported_and_the_rest_carries_on(tmp_path: Path) -> None:
    from escher.pipeline.jobs import run_job

    # no AWS credentials at all here: the scan and the cost pull fail, the report has no scan to build on
    env = worker_env(tmp_path)
    published(tmp_path, aws={"regions": ["eu-west-1"]})
    from escher.errors import EscherError

    # the scan is the job: its failure reaches the platform (which retries), after the other parts ran
    with pytest.raises(EscherError, match="credentials"):
        run_job("aws", {"job": "daily_scan"}, env)
    state = tmp_path / "state"
    [daily_file] = (state / "reports" / "daily").iterdir()
    result = json.loads(daily_file.read_text())
    parts = result["parts"]
    assert list(parts) == ["scan", "cost", "report", "digest", "retention"]
    assert not parts["scan"]["ok"] and "credentials" in parts["scan"]["error"].lower()
    assert not parts["report"]["ok"] and parts["report"]["hint"]
    assert parts["digest"]["ok"] and parts["retention"]["ok"]
    day = result["day"]
    assert result["failed"] == ["scan", "cost", "report"]
    digest = json.loads((state / "reports" / "digest" / f"{day}.json").read_text())
    assert "No morning report today" in digest["body"]
    assert (state / "reports" / "retention" / f"{day}.json").exists()
