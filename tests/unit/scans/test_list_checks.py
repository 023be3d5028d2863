"""``escher scan --list-checks``: per cloud the checks, and how many of them can fire (a collector feeds them)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from escher.cli.main import app
from escher.scans.checks.base import CHECKS, check
from escher.scans.model import Severity


def _list(*args: str) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(app, ["scan", "--list-checks", "--output", "json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, dict[str, object]] = json.loads(result.stdout)
    return data


def test_json_counts_per_cloud_the_checks_that_can_fire_against_those_registered() -> None:
    data = _list()
    assert list(data) == ["aws", "azure", "gcp"]
    for cloud, entry in data.items():
        checks = entry["checks"]
        assert isinstance(checks, list)
        assert entry["registered"] == len(checks) == len(CHECKS.keys(f"{cloud}."))
        assert entry["can_fire"] == sum(1 for c in checks if c["can_fire"])
    vault = next(c for c in data["azure"]["checks"] if c["id"] == "azure.keyvault.purge_protection")  # type: ignore[union-attr]
    assert vault["reads"] == ["azure.keyvault.vault:purge_protection"] and vault["not_produced"] == []
    assert vault["compliance"]["CIS"] == ["8.3.5"]  # the metadata the compliance catalogues read is all there


def test_a_check_nothing_feeds_is_listed_as_unable_to_fire_with_what_it_misses() -> None:
    @check("gcp.test.unfed", resource="gcp.functions.function", title="t", severity=Severity.LOW, risk="r",
           remediation="r", reads=("ingress",))  # fmt: skip
    def unfed(rec, ctx):  # type: ignore[no-untyped-def]
        return None

    try:
        gcp = _list("--cloud", "gcp")["gcp"]
        assert gcp["registered"] == gcp["can_fire"] + 1  # type: ignore[operator]
        entry = next(c for c in gcp["checks"] if c["id"] == "gcp.test.unfed")  # type: ignore[union-attr]
        assert entry["can_fire"] is False and entry["not_produced"] == ["gcp.functions.function"]
        text = CliRunner().invoke(app, ["scan", "--list-checks", "--cloud", "gcp"]).stdout
        assert f"gcp: {gcp['can_fire']} of {gcp['registered']} can fire" in text
    finally:
        CHECKS._entries.pop("gcp.test.unfed", None)
