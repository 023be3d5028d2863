"""``escher audit`` filters' time forms and the export formats (no database)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from escher.audit import AuditRecord
from escher.store.audit_query import AuditRow, export_lines, ocsf_event, parse_when
from escher.store.errors import StoreError

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T08:30+02:00", datetime(2026, 3, 1, 6, 30, tzinfo=UTC)),
    ],
)
def test_times_are_dates_or_durations_ago(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == expected


def test_a_time_that_is_not_one_says_which_forms_work() -> None:
    with pytest.raises(StoreError) as info:
        parse_when("yesterday")
    assert "24h" in (info.value.hint or "")


def _row(outcome: str = "verified", seq: int = 7) -> AuditRow:
    record = AuditRecord(
        record_id=f"rec{seq}", at=NOW, actor="user:alice", action="aws.ec2.stop_instances", target="i-0abc",
        cloud="aws", outcome=outcome, reason="nightly, \"dev\"", details={"region": "eu-west-1"},  # type: ignore[arg-type]
    )  # fmt: skip
    return AuditRow(seq, "ab" * 32, record)


def test_jsonl_and_csv_carry_the_sequence_number_and_hash() -> None:
    lines = list(export_lines([_row(), _row("failed", 8)], "jsonl"))
    assert [json.loads(line)["seq"] for line in lines] == [7, 8] and json.loads(lines[0])["hash"] == "ab" * 32
    table = list(csv.DictReader(io.StringIO("".join(export_lines([_row()], "csv")))))
    assert table == [table[0]] and (table[0]["seq"], table[0]["reason"]) == ("7", 'nightly, "dev"')
    assert "".join(export_lines([], "csv")).startswith("seq,at,actor")  # the header alone


def test_ocsf_is_an_api_activity_event() -> None:
    ok, failed = ocsf_event(_row()), ocsf_event(_row("refused"))
    assert (ok["class_uid"], ok["category_uid"], ok["type_uid"]) == (6003, 6, 600303)
    assert (ok["status_id"], failed["status_id"], failed["severity_id"]) == (1, 2, 3)
    assert ok["time"] == int(NOW.timestamp() * 1000) and ok["cloud"] == {
        "provider": "AWS",
        "region": "eu-west-1",
    }
    assert ok["api"]["operation"] == "aws.ec2.stop_instances" and ok["resources"] == [{"uid": "i-0abc"}]
    assert ok["metadata"]["uid"] == "rec7" and ok["metadata"]["sequence"] == 7
