"""CIS AWS 7.0.0 2.18 (an external access analyzer ACTIVE in every region) read by the real AWS collector.

moto 5.2.6 has no IAM Access Analyzer, so ListAnalyzers is answered at botocore's transport (a ``before-send``
replay of the service model's ``ListAnalyzersResponse`` shape, tests/harness/replay.py): boto3 builds, signs and
sends the request and parses the answer as against AWS; moto answers the account (STS) as usual.
"""

from __future__ import annotations

import pytest

from escher.clouds.aws.collect import AwsCollector
from escher.emulators import MotoEmulator
from escher.scans.checks.base import CHECKS, NA, CheckContext, Fail
from escher.scans.model import Inventory, Record
from tests.harness import replay as wire
from tests.harness.replay import AccessAnalyzerEstate, access_analyzer

CHECK = "aws.accessanalyzer.disabled"


def _collect(regions: list[str]) -> Inventory:
    return AwsCollector(regions, services=["accessanalyzer"], max_attempts=1).collect()


def _verdicts(records: list[Record]) -> dict[str, str]:
    chk = CHECKS.get(CHECK)
    out = {}
    for rec in records:
        if rec.type == chk.resource_type:
            outcome = chk.fn(rec, CheckContext())
            out[rec.region] = (
                f"fail: {outcome.message}" if isinstance(outcome, Fail) else "na" if outcome is NA else "pass"
            )
    return out


def test_each_region_passes_only_with_an_active_external_access_analyzer(
    aws_env: MotoEmulator, access_analyzer_in_front_of_moto: AccessAnalyzerEstate
) -> None:
    # GIVEN four regions: an ACTIVE account analyzer; an organization analyzer beside an unused-access one;
    # none but an ACTIVE unused-access analyzer (not external access); only a DISABLED and a FAILED one
    access_analyzer_in_front_of_moto.regions = {
        "us-east-1": [access_analyzer("external", "us-east-1")],
        "eu-central-1": [
            access_analyzer("unused", "eu-central-1", type_="ACCOUNT_UNUSED_ACCESS"),
            access_analyzer("org", "eu-central-1", type_="ORGANIZATION"),
        ],
        "us-west-2": [access_analyzer("unused", "us-west-2", type_="ACCOUNT_UNUSED_ACCESS")],
        "eu-west-1": [
            access_analyzer("old", "eu-west-1", status="DISABLED"),
            access_analyzer("org", "eu-west-1", type_="ORGANIZATION", status="FAILED"),
        ],
    }
    access_analyzer_in_front_of_moto.default = None  # a region not scripted would reach moto and fail
    # WHEN the collector reads them
    inventory = _collect(["us-east-1", "eu-central-1", "us-west-2", "eu-west-1"])
    # THEN one record per region, each region asked once, and the check fails the two without an ACTIVE one
    assert not inventory.errors, inventory.errors
    assert access_analyzer_in_front_of_moto.asked == dict.fromkeys(
        ["us-east-1", "eu-central-1", "us-west-2", "eu-west-1"], 1
    )
    assert _verdicts(inventory.records) == {
        "us-east-1": "pass",
        "eu-central-1": "pass",
        "us-west-2": "fail: no external access analyzer (type ACCOUNT or ORGANIZATION) in the region",
        "eu-west-1": "fail: no external access analyzer is ACTIVE: old is DISABLED, "
        "org is FAILED (SERVICE_LINKED_ROLE_CREATION_FAILED)",
    }
    [east] = [r for r in inventory.records if r.region == "us-east-1"]
    assert east.id == f"{east.account}/us-east-1" and east.attrs["analyzers"] == [
        {"name": "external", "type": "ACCOUNT", "status": "ACTIVE", "reason": None}
    ]


def test_the_analyzers_are_read_across_pages(
    aws_env: MotoEmulator,
    access_analyzer_in_front_of_moto: AccessAnalyzerEstate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a region whose ListAnalyzers answers in two pages, the ACTIVE analyzer on the second
    import json
    from urllib.parse import parse_qs, urlsplit

    seen: list[dict[str, list[str]]] = []

    def pages(method: str, url: str, headers: object, body: object) -> wire.Reply:
        query = parse_qs(urlsplit(url).query)
        seen.append(query)
        if "nextToken" not in query:
            page = {"analyzers": [access_analyzer("old", "us-east-1", status="DISABLED")], "nextToken": "p2"}
        else:
            page = {"analyzers": [access_analyzer("external", "us-east-1")]}
        return 200, {}, json.dumps(page).encode()

    access_analyzer_in_front_of_moto.default = None  # this test's own replay answers
    wire.install_botocore_replay(monkeypatch, wire.BotocoreReplay("accessanalyzer", pages))
    # WHEN it is read
    inventory = _collect(["us-east-1"])
    # THEN both pages were asked for (the largest page, then the token) and the region passes
    assert not inventory.errors, inventory.errors
    assert seen == [{"maxResults": ["100"]}, {"maxResults": ["100"], "nextToken": ["p2"]}]
    assert _verdicts(inventory.records) == {"us-east-1": "pass"}


def test_a_region_that_cannot_be_read_is_not_read_not_a_pass(
    aws_env: MotoEmulator,
    access_analyzer_in_front_of_moto: AccessAnalyzerEstate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN us-east-1 denies ListAnalyzers, and us-west-2's request reaches moto, which has no Access Analyzer
    def denied(method: str, url: str, headers: object, body: object) -> wire.Reply | None:
        if wire.signed_region(headers) != "us-east-1":
            return None
        return wire.aws_error(
            403, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/scan is not authorized to "
            "perform: access-analyzer:ListAnalyzers"
        )  # fmt: skip

    access_analyzer_in_front_of_moto.default = None
    wire.install_botocore_replay(monkeypatch, wire.BotocoreReplay("accessanalyzer", denied))
    # WHEN both regions are scanned
    inventory = _collect(["us-east-1", "us-west-2"])
    # THEN neither region has a record (so no verdict, never a pass) and each says why, without a crash
    assert _verdicts(inventory.records) == {}
    errors = {e.region: e for e in inventory.errors}
    assert set(errors) == {"us-east-1", "us-west-2"}
    assert {e.service for e in inventory.errors} == {"accessanalyzer"}
    assert errors["us-east-1"].code == "AccessDeniedException"
    assert "access-analyzer:ListAnalyzers" in errors["us-east-1"].message
    assert errors["us-west-2"].code == "500"  # moto: "Unable to find appropriate backend", as an HTML page
    assert errors["us-west-2"].message.startswith(
        "the endpoint answered HTTP 500 with a web page, not Access"
    )
    assert "moto has no IAM Access Analyzer" in errors["us-west-2"].message
