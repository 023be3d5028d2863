"""Golden tests: every sample payload normalizes to the event stored beside it.

Regenerate after a deliberate change with ``ESCHER_REGEN_GOLDEN=1 pytest tests/unit/events/test_golden.py``
and review the diff: the expected files are the specification.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from escher.events import NORMALIZERS, UnifiedEvent, normalize, resolve
from tests.unit.events._samples import RECEIVED_AT, SAMPLES, expected_path, load, sample_paths

PATHS = sample_paths()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_sample_normalizes_to_its_expected_event(path: Path) -> None:
    event = normalize(path.read_bytes(), received_at=RECEIVED_AT)
    assert UnifiedEvent.model_validate_json(event.model_dump_json()) == event  # JSON round trip is lossless
    got = event.model_dump(mode="json")
    target = expected_path(path)
    if os.environ.get("ESCHER_REGEN_GOLDEN") == "1":
        target.write_text(json.dumps(got, indent=2) + "\n", encoding="utf-8")
    assert target.exists(), f"no expected event for {path.name}: run with ESCHER_REGEN_GOLDEN=1 and review it"
    assert got == load(target)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_sample_event_type_is_one_its_normalizer_declares(path: Path) -> None:
    entry = resolve(path.read_bytes(), received_at=RECEIVED_AT)
    assert entry.key.startswith(path.parent.name + ".")
    assert normalize(path.read_bytes(), received_at=RECEIVED_AT).event_type in entry.event_types


def test_every_sample_cites_its_source() -> None:
    for cloud in ("aws", "azure", "gcp"):
        sources = tomllib.loads((SAMPLES / cloud / "sources.toml").read_text(encoding="utf-8"))
        names = {p.stem for p in PATHS if p.parent.name == cloud}
        assert names == set(sources), f"{cloud}/sources.toml must list exactly the samples"
        assert all(s["source"].startswith("https://") for s in sources.values())


def test_samples_cover_the_required_normalizers_per_cloud() -> None:
    # issue 3: >= 10 AWS, >= 6 Azure, >= 6 GCP source kinds, each with a sample that reaches it
    reached = {resolve(p.read_bytes(), received_at=RECEIVED_AT).key for p in PATHS}
    for cloud, minimum in (("aws", 10), ("azure", 6), ("gcp", 6)):
        specific = [k for k in NORMALIZERS.keys(cloud + ".") if k in reached and "generic" not in k]
        assert len(specific) >= minimum, (cloud, specific)
    unreached = set(NORMALIZERS.keys()) - reached
    allowed = {"aws.cloudtrail.api_call", "aws.sns.generic", "azure.monitor.generic", "gcp.audit.api_call"}
    assert unreached <= allowed, (
        unreached
    )  # generic entries; tests/unit/events/test_aws_budgets.py reaches SNS
