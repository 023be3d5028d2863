"""Watermarks never rewind and re-read an overlap; the state diff raises new or unhandled findings only, with an
id fixed at first sight; ``[watch]`` is validated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escher.errors import EscherError
from escher.pipeline.objects import MemoryObjects
from escher.watch.runner import WatchConfig
from escher.watch.state import Finding, StateDiff, finding_event
from escher.watch.watermarks import OVERLAP, Watermarks

T0 = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def test_watermark_starts_at_the_lookback_then_overlaps_and_never_rewinds() -> None:
    marks = Watermarks(MemoryObjects())
    assert marks.since("aws:x", T0, timedelta(hours=1)) == T0 - timedelta(hours=1)
    marks.advance("aws:x", T0)
    marks.advance("aws:x", T0 - timedelta(minutes=5))  # a late, older round
    assert marks.get("aws:x") == T0
    assert marks.since("aws:x", T0 + timedelta(minutes=1), timedelta(hours=1)) == T0 - OVERLAP
    assert marks.get("azure:y") is None


def _public(bucket: str, evidence: str = "READ granted to AllUsers") -> Finding:
    return Finding(
        f"s3:public:{bucket}",
        "storage_bucket_public",
        "AWS::S3::Bucket",
        f"arn:aws:s3:::{bucket}",
        bucket,
        "us-east-1",
        {"public": True, "evidence": [evidence]},
    )


def test_state_diff_raises_new_changed_and_unhandled_findings_only() -> None:
    diff = StateDiff(MemoryObjects(), "aws:123")
    state, raise_ = diff.diff([_public("a")], T0)
    assert raise_ == ["s3:public:a"]
    first_id = state["s3:public:a"]["event_id"]
    diff.save(state)  # saved before handling: not handled yet

    state, raise_ = diff.diff([_public("a")], T0 + timedelta(minutes=1))
    assert raise_ == ["s3:public:a"] and state["s3:public:a"]["event_id"] == first_id  # the same id again
    state["s3:public:a"]["handled"] = True
    diff.save(state)

    state, raise_ = diff.diff([_public("a")], T0 + timedelta(minutes=2))
    assert raise_ == []
    state, raise_ = diff.diff([_public("a", "WRITE granted to AllUsers")], T0 + timedelta(minutes=3))
    assert raise_ == ["s3:public:a"] and state["s3:public:a"]["event_id"] != first_id

    diff.save({})  # fixed: forgotten; made public again later is a new incident
    state, raise_ = diff.diff([_public("a")], T0 + timedelta(minutes=4))
    assert raise_ == ["s3:public:a"] and state["s3:public:a"]["event_id"] != first_id


def test_a_finding_becomes_the_event_the_activity_path_raises() -> None:
    event = finding_event(_public("shop"), "watch:aws:123:s3:public:shop:1", "123", T0)
    assert (event.event_type.value, event.resource.name, event.resource.type) == (
        "storage_bucket_public",
        "shop",
        "AWS::S3::Bucket",
    )
    assert event.resource.metadata["resource_kind"] == "bucket"


def test_watch_config_is_validated() -> None:
    assert WatchConfig.from_extensions({"watch": {"interval_seconds": 30}}).interval_seconds == 30
    with pytest.raises(EscherError, match="watch"):
        WatchConfig.from_extensions({"watch": {"state_check": "sometimes"}})


def test_the_loop_survives_a_round_that_fails_and_sleeps_the_rest_of_the_interval() -> None:
    from escher.pipeline.errors import StateStoreError
    from escher.watch.runner import Watcher

    class DownObjects(MemoryObjects):
        def get(self, key: str) -> None:  # type: ignore[override]
            raise StateStoreError("bucket unreachable", hint="retried")

    class Feed:
        cloud, name = "aws", "aws:cloudtrail:1:us-east-1"

        def read(self, since: datetime, until: datetime) -> list[dict[str, object]]:
            return []

    rounds: list[list[object]] = []
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            raise KeyboardInterrupt

    watcher = Watcher(None, [Feed()], Watermarks(DownObjects()), config=WatchConfig(interval_seconds=60))  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        watcher.run_forever(rounds.append, sleep=sleep)
    assert len(rounds) == 2 and all("unreachable" in str(r[0].error) for r in rounds)  # type: ignore[attr-defined]
    assert all(55 < s <= 60 for s in slept)


def test_root_key_use_is_read_from_the_credential_report() -> None:
    from escher.watch.state import root_key_use

    header = (
        "user,arn,access_key_1_active,access_key_1_last_used_date,access_key_1_last_used_service,"
        "access_key_2_active,access_key_2_last_used_date,access_key_2_last_used_service"
    )
    root = "<root_account>,arn:aws:iam::1:root,true,2026-12-07T09:58:00+00:00,s3,false,N/A,N/A"
    alice = "alice,arn:aws:iam::1:user/alice,true,2026-12-07T09:00:00+00:00,ec2,false,N/A,N/A"
    assert root_key_use("\n".join([header, root, alice])) == [
        "root access key 1 used 2026-12-07T09:58:00+00:00 (s3)"
    ]
    unused = "<root_account>,arn:aws:iam::1:root,false,N/A,N/A,false,no_information,N/A"
    assert root_key_use("\n".join([header, unused, alice])) == []
