"""Every worker, fed malformed deliveries at its real entry points (``fuzzing.py`` says which): none raises,
none reaches a cloud, each is dead-lettered with a reason and answered as handled. ``make fuzz`` runs 100,000 a
worker; here a few thousand, seeded (the same ones every run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.workers import fuzz_run, fuzzing

COUNT = {"aws": 1500, "azure": 2000, "gcp": 2000}


@pytest.mark.parametrize("worker", fuzzing.WORKERS)
def test_malformed_deliveries_are_dead_lettered_never_raised_never_acted_on(
    worker: str, tmp_path: Path
) -> None:
    with fuzz_run.environment(tmp_path):
        figures = fuzz_run.run(worker, COUNT[worker], seed=14)
    assert figures.exceptions == [], figures.exceptions[:3]
    assert figures.actions == 0
    assert figures.not_parked == [], figures.not_parked[:5]
    assert figures.unwritable == [], figures.unwritable[:3]
    assert figures.dead_lettered == figures.deliveries == COUNT[worker]
    # the run was the poison it claims: every kind of it, kept both ways
    kinds = {k.split("/", 1)[1].split(":")[0] for k in figures.kinds}
    assert {"deep", "huge_int", "surrogate", "not_finite"} <= kinds, kinds
    assert figures.encodings["base64"] and figures.encodings["json"]
