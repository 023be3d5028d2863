"""The organization report's way home and into the morning report, without a scan: joined reports made by the
real `escher.pipeline.fanout.join` over account parts written into a directory standing in for the extension's
state storage; `escher.extend.pull.pull` into the session Postgres store and the laptop's state directory; then
`escher.report.org` turns them into the report's summary and per-account breakdown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from escher.extend.pull import Source, pull
from escher.pipeline.fanout import DEADLINE, join
from escher.pipeline.objects import LocalObjects
from escher.report.model import MorningReport
from escher.report.org import NoOrgReportError, apply_org, choose, org_report, pulled
from escher.report.template import ReportTemplate

SUBS = ["0b6f2c1e-1111-4d4d-9a9a-000000000001", "0b6f2c1e-2222-4d4d-9a9a-000000000002",
        "0b6f2c1e-3333-4d4d-9a9a-000000000003"]  # fmt: skip
START = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def _joined(
    ext: LocalObjects, run: str, start: datetime, parts: dict[str, bool], *, late: bool = False
) -> None:
    """An organization run of SUBS in ``ext``: its manifest, the given parts (True: scanned with one public
    container; False: the account refused), joined by fanout.join (at the deadline when ``late``)."""
    manifest = {"run": run, "accounts": SUBS, "started_at": start.isoformat(),
                "deadline": (start + DEADLINE).isoformat()}  # fmt: skip
    ext.put(f"scans/org/{run}/manifest.json", json.dumps(manifest).encode())
    for account, ok in parts.items():
        part: dict[str, Any] = {"account": account, "run": run, "ok": ok}
        part |= (
            {"resources": 4, "not_read": ["westeurope/sql: 429 Too Many Requests"] if account == SUBS[2] else [],
             "findings": [{"check_id": "azure.storage.container_public", "resource_id": f"c-{account[-1]}",
                           "severity": "CRITICAL", "status": "FAIL", "title": "Blob container is public"},
                          {"check_id": "azure.storage.container_public", "resource_id": f"d-{account[-1]}",
                           "severity": "CRITICAL", "status": "PASS", "title": "Blob container is public"}]}
            if ok
            else {"error": "the subscription does not answer the worker's identity", "hint": "grant it Reader"}
        )  # fmt: skip
        ext.put(f"scans/org/{run}/accounts/{account}.json", json.dumps(part).encode())
    at = start + (DEADLINE if late else timedelta(minutes=10))
    assert join(ext, run, now=at) is not None


@pytest.fixture
def store(escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from escher.store.store import Store

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    with Store.open() as opened:
        yield opened


def test_pull_keeps_each_run_once_newest_first_and_a_rejoined_run_replaces_its_copy(
    store,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    ext = LocalObjects(tmp_path / "extension")
    laptop = LocalObjects(tmp_path / "laptop-state")
    source = Source("azure", ext.state.url, ext.state.url)
    runs = [f"2026-12-0{d}T020000-aaaaa{d}" for d in (5, 6, 7)]
    for day, run in enumerate(runs):
        _joined(ext, run, START + timedelta(days=day - 2), dict.fromkeys(SUBS, True))
    calls = iter(range(100))

    # a deadline that passes after the first organization report: the newest comes first, the rest next time
    first = pull(store, source, local_state=laptop, deadline=lambda: next(calls) >= 1)
    assert first.complete is False and first.pulled == {"org_report": 1}
    assert [p.run for p in pulled(laptop)] == [runs[-1]]
    second = pull(store, source, local_state=laptop)
    assert second.complete is True and second.pulled == {"org_report": 2}
    assert pull(store, source, local_state=laptop).pulled == {}  # nothing new: nothing read, nothing doubled
    assert [p.run for p in pulled(laptop)] == runs and {p.cloud for p in pulled(laptop)} == {"azure"}

    # a late part makes the join write the newest run again: its new version replaces the copy
    _joined(ext, runs[-1], START, {SUBS[0]: True}, late=True)
    assert pull(store, source, local_state=laptop).pulled == {"org_report": 1}
    kept = pulled(laptop)
    assert [p.run for p in kept] == runs
    assert (
        kept[-1].report.joined_at == START + DEADLINE
        and kept[-1].source == f"{ext.state.url}reports/org/{runs[-1]}.json"
    )


def test_the_organization_report_alone_and_over_an_older_or_newer_local_scan(tmp_path: Path) -> None:
    ext = LocalObjects(tmp_path / "extension")
    laptop = LocalObjects(tmp_path / "laptop-state")
    from escher.report.org import keep

    run = "2026-12-07T020000-bbbbbb"
    # SUBS[0] scanned, SUBS[1] refused, SUBS[2] scanned with a part not read; joined once every part was in
    _joined(ext, run, START, {SUBS[0]: True, SUBS[1]: False, SUBS[2]: True})
    got = ext.get(f"reports/org/{run}.json")
    assert got is not None
    keep(laptop, "azure", f"{ext.state.url}reports/org/{run}.json", "v1", got.data)
    org = choose(laptop, None, extended=True)
    assert org is not None and org.run == run

    # alone (no local scan): summary, per-account rows, the refused one and why, findings grouped by check
    rep = org_report(org, ReportTemplate())
    assert rep.organization is not None and rep.organization["cloud"] == "azure"
    assert rep.organization["scanned"] == 2 and rep.organization["not_scanned"][0]["account"] == SUBS[1]
    assert {r["account"]: (r["findings"], r.get("CRITICAL")) for r in rep.accounts} == {
        SUBS[0]: (1, 1),
        SUBS[2]: (1, 1),
    }
    assert rep.unreachable_accounts == [
        f"{SUBS[1]}: not scanned: the subscription does not answer the worker's identity; grant it Reader"
    ]
    assert rep.partial == [f"account {SUBS[2]}: westeurope/sql: 429 Too Many Requests"]
    [group] = rep.security
    assert group.check_id == "azure.storage.container_public" and group.count == 2
    assert rep.totals == {"CRITICAL": 2} and len(rep.findings) == 2
    assert {f["account"] for f in rep.findings} == {SUBS[0], SUBS[2]}
    assert rep.findings[0]["category"] == "security" and rep.findings[0]["remediation"]  # from the check
    only = org_report(org, ReportTemplate(), accounts=[SUBS[1]])
    assert only.accounts == [] and len(only.unreachable_accounts) == 1 and only.findings == []

    # over a local scan older than it: the breakdown is the organization's, and the report says so
    def local(at: datetime) -> MorningReport:
        return MorningReport(report_date="2026-12-07", generated_at=at.isoformat(), data_as_of=at.isoformat(),
                             scan_id="S-1", focus="balanced", format="detailed", sections=["security"],
                             resources=1)  # fmt: skip

    over = apply_org(local(START - timedelta(hours=5)), org)
    assert over.organization is not None and over.organization["newer_than_local_scan"] is True
    assert {r["account"] for r in over.accounts} == {SUBS[0], SUBS[2]}
    assert over.scope_notes[0].startswith(f"Accounts: from the azure extension's organization scan {run}")
    assert over.scope_notes[0].endswith("this laptop's scan of 2026-12-06 21:00 UTC, older than it.")
    # a local scan newer than it: the local report, naming the organization scan; --run forces it
    newer = apply_org(local(START + timedelta(hours=1)), org)
    assert newer.organization is None and newer.accounts == []
    assert f"escher report --run {run}" in newer.scope_notes[-1]
    forced = apply_org(local(START + timedelta(hours=1)), org, chosen=True)
    assert forced.organization is not None and forced.organization["newer_than_local_scan"] is False
    assert forced.scope_notes[0].endswith("this laptop's scan of 2026-12-07 03:00 UTC, newer than it.")

    # --run with an id never pulled names the ones that were
    with pytest.raises(NoOrgReportError) as err:
        choose(laptop, "2026-12-01T020000-zzzzzz", extended=True)
    assert run in (err.value.hint or "")


def test_a_run_joined_at_its_deadline_names_the_missing_account_in_every_format(tmp_path: Path) -> None:
    from escher.report.org import keep
    from escher.report.render import render

    ext = LocalObjects(tmp_path / "extension")
    laptop = LocalObjects(tmp_path / "laptop-state")
    run = "2026-12-07T020000-cccccc"
    _joined(ext, run, START, {SUBS[0]: True, SUBS[1]: False}, late=True)  # SUBS[2]'s part never came
    got = ext.get(f"reports/org/{run}.json")
    assert got is not None
    keep(laptop, "azure", f"{ext.state.url}reports/org/{run}.json", "v1", got.data)
    org = choose(laptop, run, extended=True)
    assert org is not None and org.report.complete is False
    rep = org_report(org, ReportTemplate())

    text = render(rep, "text").decode()
    assert f"1 account read, 2 not reached - organization scan {run} (incomplete)" in text
    assert f"NOT REACHED {SUBS[2]}: missing: no result by the run's deadline" in text
    for fmt in ("md", "html"):
        page = render(rep, fmt).decode()
        assert f"organization scan {run}" in page and SUBS[2] in page, fmt
    assert json.loads(render(rep, "json"))["organization"]["complete"] is False
    assert json.loads(render(rep, "ocsf"))[0]["cloud"]["account"]["uid"] == SUBS[0]
    assert SUBS[0] in render(rep, "csv").decode()
