from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from escher.clouds.aws.schedules import to_eventbridge
from escher.clouds.azure.schedules import to_ncrontab
from escher.schedule.cloud import cloud_specs
from escher.schedule.cron import CronError, parse
from escher.schedule.jobs import Job, JobError, Schedule, parse_job
from escher.schedule.runner import run_due
from escher.schedule.store import ScheduleStore


def test_cron_next_run_in_the_users_time_zone() -> None:
    t = parse("0 20 * * *").next_after(datetime(2025, 3, 15, 21, 0, tzinfo=UTC), "Europe/Paris")
    assert t.isoformat() == "2025-03-16T20:00:00+01:00"
    assert parse("30 2 * * mon-fri").next_after(datetime(2025, 3, 15, 0, 0, tzinfo=UTC)).day == 17
    assert parse("*/15 * * * *").next_after(datetime(2025, 3, 15, 21, 7, tzinfo=UTC)).minute == 15
    assert parse("0 0 29 2 *").next_after(datetime(2025, 3, 1, tzinfo=UTC)).year == 2028
    # both restricted: either matches (Vixie cron)
    assert parse("0 0 1 * 1").next_after(datetime(2025, 3, 1, 12, tzinfo=UTC)).day == 3


@pytest.mark.parametrize("bad", ["0 20 * *", "61 * * * *", "0 25 * * *", "* * * * 9", "x * * * *"])
def test_bad_cron_is_a_typed_error(bad: str) -> None:
    with pytest.raises(CronError):
        parse(bad)


def test_cloud_syntaxes() -> None:
    assert to_eventbridge("0 20 * * *") == "cron(0 20 * * ? *)"
    assert to_eventbridge("0 20 * * 1-5") == "cron(0 20 ? * MON-FRI *)"
    assert to_ncrontab("0 20 * * 1-5") == "0 0 20 * * 1-5"
    with pytest.raises(CronError):
        to_eventbridge("0 0 1 * 1")


def test_jobs_from_words() -> None:
    job = parse_job("stop instances tagged env=dev")
    assert (job.kind, job.operation, job.tags) == ("operation", "aws.ec2.stop_instances", {"env": "dev"})
    assert parse_job("stop azure vms tagged env=dev").operation == "azure.compute.deallocate_vm"
    assert parse_job("aws.ec2.stop_instances tag:team=web region:eu-west-1").regions == ["eu-west-1"]
    assert parse_job("scan aws gcp").clouds == ["aws", "gcp"]
    with pytest.raises(JobError):
        parse_job("stop instances")  # no filter: would stop everything
    with pytest.raises(JobError):
        parse_job("make coffee")


def test_default_daily_scan_and_run_due(tmp_path: Path) -> None:
    store = ScheduleStore(
        tmp_path / "s.json",
        timezone="Europe/Paris",
        daily_scan_at="02:00",
        clock=lambda: datetime(2025, 3, 14, 12, tzinfo=UTC),  # installed the day before
    )
    daily = store.all()[0]
    assert daily.id == "daily" and daily.cron == "0 2 * * *" and daily.timezone == "Europe/Paris"
    store.add(
        Schedule(
            id="s-1",
            cron="0 20 * * *",
            job=parse_job("report"),
            created_at=datetime(2025, 3, 15, 12, tzinfo=UTC),
        )
    )
    ran: list[Job] = []

    def execute(job: Job) -> str:
        ran.append(job)
        return "ok"

    now = datetime(2025, 3, 15, 20, 30, tzinfo=UTC)
    records = run_due(store, execute, now)
    assert {r.schedule_id for r in records} == {"daily", "s-1"}
    assert run_due(store, execute, now) == []  # ran once; not again until the next slot
    specs = cloud_specs(store.all(), ["aws", "gcp"])
    assert specs["aws"][0]["schedule_expression"] == "cron(0 2 * * ? *)"
    assert specs["aws"][0]["schedule_expression_timezone"] == "Europe/Paris"
    assert specs["gcp"][1]["schedule"] == "0 20 * * *"
    store.remove("daily")
    assert [s.id for s in store.all()] == ["s-1"]
