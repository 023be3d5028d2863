"""Issue 17, item 5: cost on day one. `sync_if_due` pulls yesterday's snapshot when one is missing (what
`escher scan` calls), makes no call once it is stored, and one cloud's unreadable billing never costs the
others theirs; `stored_snapshots` is what report, ask and chat read."""

from __future__ import annotations

from datetime import date

from escher.scans.cost import CostSnapshot, stored_snapshots, sync, sync_if_due
from escher.scans.errors import CloudAccessError
from escher.scans.persist import MemoryStore
from escher.scans.synthetic import cost_snapshot

DAY = date(2026, 12, 6)


class _Source:
    def __init__(self, cloud: str, fail: bool = False) -> None:
        self.cloud, self.fail, self.calls = cloud, fail, 0

    def snapshot(self, day: date) -> CostSnapshot:
        self.calls += 1
        if self.fail:
            raise CloudAccessError("billing export not set", hint="set [gcp] billing_export_table")
        snap = cost_snapshot(day)
        snap.cloud = self.cloud
        return snap


def test_sync_if_due_pulls_once_then_makes_no_call() -> None:
    store, aws = MemoryStore(), _Source("aws")
    first = sync_if_due(["aws"], store, DAY, sources=[aws])
    assert first is not None and first.fetched and aws.calls == 1
    assert [s.cloud for s in first.snapshots] == ["aws"] and store.get("cost", "aws-2026-12-06")
    assert sync_if_due(["aws"], store, DAY, sources=[aws]) is None and aws.calls == 1
    again = sync(["aws"], store, DAY, sources=[aws])
    assert not again.fetched and aws.calls == 1  # read back, no second billing call for the day


def test_one_unreadable_cloud_is_listed_and_the_others_are_stored() -> None:
    store = MemoryStore()
    result = sync_if_due(["aws", "gcp"], store, DAY, sources=[_Source("aws"), _Source("gcp", fail=True)])
    assert result is not None and [s.cloud for s in result.snapshots] == ["aws"]
    assert len(result.missing) == 1 and result.missing[0].startswith("gcp:")
    assert "billing_export_table" in result.missing[0]


def test_stored_snapshots_newest_day_per_cloud() -> None:
    store = MemoryStore()
    sync(["aws"], store, date(2026, 12, 5), sources=[_Source("aws")])
    sync(["aws"], store, DAY, sources=[_Source("aws")])
    assert [s.day for s in stored_snapshots(store)] == ["2026-12-06"]
    assert [s.day for s in stored_snapshots(store, "2026-12-05")] == ["2026-12-05"]
