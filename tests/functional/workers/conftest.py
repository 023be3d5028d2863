"""Worker tests: each worker's real entry point, its config in a private dir, the state on an emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from escher.pipeline import runtime

CONFIG = """
[remediation]
make_public_buckets_private = true

[notify.routes]
CRITICAL = ["banner"]
HIGH = ["banner"]
"""


@dataclass
class LambdaContext:
    """What powertools reads from the Lambda context object."""

    function_name: str = "escher-worker"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:escher-worker"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/escher-worker"
    log_stream_name: str = "2024/05/02/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


@pytest.fixture
def worker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The config a deployed worker carries: pre-approved bucket fix, banner-only routes (no real SMTP here)."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("ESCHER_CONFIG_DIR", str(config))
    monkeypatch.setenv("ESCHER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "EscherTest")
    runtime.reset()
    yield config
    runtime.reset()


def load_json(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data
