"""As a new user on moto: `escher scan` ends with the findings it found, each with the id `escher fix` and
`escher findings show` take, and the first scan of a day pulls yesterday's cost so the report has it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.scans.estate import REGION, seed


def test_scan_lists_top_findings_with_ids_and_syncs_cost(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.cli.main import app
    from escher.scans.persist_store import StoreResults
    from escher.store.store import Store

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("COLUMNS", "200")
    seed(2)
    runner = CliRunner()

    res = runner.invoke(app, ["scan", "--region", REGION])

    assert res.exit_code in (0, 1), res.output
    assert "Top findings" in res.output
    ids = re.findall(r"\bF-[0-9a-f]{10}\b", res.output)
    assert 0 < len(ids) <= 10, res.output
    shown = runner.invoke(app, ["findings", "show", ids[0]])
    assert shown.exit_code == 0, shown.output
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    with Store.open(url=pg_database) as store:
        assert f"aws-{yesterday}" in StoreResults(store).keys("cost")
