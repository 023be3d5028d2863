"""The organization scan's join (escher.pipeline.fanout.join) on its own: it waits for every account's part
until the run's deadline, then joins what is in and names the accounts whose part never came. The state
storage is the in-memory one the pipeline tests use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from escher.pipeline.fanout import DEADLINE, join
from escher.pipeline.objects import MemoryObjects

START = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]


def _run(objects: MemoryObjects, parts: dict[str, bool]) -> str:
    run = "2026-12-07T020000-abc123"
    manifest = {"run": run, "accounts": ACCOUNTS, "started_at": START.isoformat(),
                "deadline": (START + DEADLINE).isoformat()}  # fmt: skip
    objects.put(f"scans/org/{run}/manifest.json", json.dumps(manifest).encode())
    for account, ok in parts.items():
        part = {"account": account, "run": run, "ok": ok}
        part |= (
            {"resources": 2, "not_read": [], "findings": [
                {"check_id": "aws.s3.bucket_public", "resource_id": f"b-{account}", "severity": "HIGH",
                 "status": "FAIL", "title": "public"},
                {"check_id": "aws.s3.versioning", "resource_id": f"b-{account}", "severity": "LOW",
                 "status": "PASS", "title": "versioned"}]}
            if ok
            else {"error": "AccessDenied", "hint": "check the role"}
        )  # fmt: skip
        objects.put(f"scans/org/{run}/accounts/{account}.json", json.dumps(part).encode())
    return run


def test_the_join_waits_for_every_part_until_the_deadline_then_names_the_missing() -> None:
    objects = MemoryObjects()
    run = _run(objects, {ACCOUNTS[0]: True, ACCOUNTS[1]: False})

    assert join(objects, run, now=START + timedelta(minutes=30)) is None  # one part is still out
    assert objects.get(f"reports/org/{run}.json") is None

    report = join(objects, run, now=START + DEADLINE)

    assert report is not None and report["complete"] is False
    status = {s["account"]: s["status"] for s in report["accounts"]}
    assert status == {ACCOUNTS[0]: "scanned", ACCOUNTS[1]: "not scanned", ACCOUNTS[2]: "missing"}
    assert report["not_scanned"] == ACCOUNTS[1:]
    assert report["findings"] == 1  # failing findings only
    [scanned] = [s for s in report["accounts"] if s["status"] == "scanned"]
    assert scanned["by_severity"] == {"HIGH": 1}
    stored = objects.get(f"reports/org/{run}.md")
    assert stored is not None
    text = stored.data.decode()
    assert "1 of 3 account(s) scanned" in text and f"## Account {ACCOUNTS[2]} (missing)" in text


def test_the_join_does_not_wait_for_the_deadline_when_every_part_is_in() -> None:
    objects = MemoryObjects()
    run = _run(objects, dict.fromkeys(ACCOUNTS, True))

    report = join(objects, run, now=START + timedelta(minutes=5))

    assert report is not None and report["complete"] is True and report["not_scanned"] == []
    assert report["findings"] == 3
