"""Worker tests: each worker's real entry point, its config in a private dir, the state on an emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from escher.demo.run import LambdaContext
from escher.pipeline import runtime

__all__ = ["CONFIG", "LambdaContext"]

CONFIG = """
[remediation]
make_public_buckets_private = true

[notify.routes]
CRITICAL = ["banner"]
HIGH = ["banner"]
"""


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
