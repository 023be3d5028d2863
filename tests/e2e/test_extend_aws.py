"""Real-cloud round trip of ``escher extend aws`` / ``escher destroy aws`` (needs credentials and Pulumi)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not (os.environ.get("ESCHER_E2E_AWS") and shutil.which("pulumi")),
    reason="set ESCHER_E2E_AWS=1 with AWS credentials and install the Pulumi CLI to run against AWS",
)
def test_extend_then_destroy_aws(tmp_path: Path) -> None:
    from escher.config import Paths
    from escher.infra import driver
    from escher.infra.bundle import build_bundle
    from escher.infra.export import StoreExporter
    from escher.infra.spec import spec_from_settings

    paths = Paths(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data")
    bundle = build_bundle("aws", source_root=REPO, cache_dir=paths.data_dir / "bundles")
    spec = spec_from_settings("aws", bundle_path=str(bundle.path))
    result = driver.extend(spec, paths, credentials={}, writer=None)
    try:
        assert result.outputs["state_bucket"].startswith("escher-state-")
    finally:
        destroyed = driver.destroy("aws", paths, exporter=StoreExporter())
    assert destroyed.exported_objects >= 0
