"""Issue 17, item 4: a time zone is checked before a schedule is saved, one broken schedule never stops the
others (listed as broken, skipped with its error), the built-in daily job's next run is right from the start,
and a job the policy gate would refuse every night is refused when it is added."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.policy.remediation import RemediationSettings
from escher.schedule.admit import ScheduleRefusedError, check_admissible, refusal
from escher.schedule.cron import TimezoneError, check_timezone, parse
from escher.schedule.jobs import Job, Schedule, parse_job
from escher.schedule.runner import agent_loop, run_due
from escher.schedule.store import BrokenSchedule, ScheduleStore

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def _cli(*args: str) -> object:
    return CliRunner().invoke(app, ["--output", "json", *args])


@pytest.mark.parametrize(
    ("given", "suggested"),
    [("Paris", "Europe/Paris"), ("europe/paris", "Europe/Paris"), ("New York", "America/New_York")],
)
def test_an_unknown_zone_is_refused_with_the_closest_one(given: str, suggested: str) -> None:
    with pytest.raises(TimezoneError) as err:
        check_timezone(given)
    assert suggested in (err.value.hint or "")
    assert check_timezone(suggested) == suggested


def test_a_schedule_cannot_be_made_with_an_unknown_zone() -> None:
    with pytest.raises(TimezoneError):
        Schedule(id="s-1", cron="0 20 * * *", timezone="Paris", job=parse_job("report"))


def test_a_cron_that_never_fires_is_refused() -> None:
    from escher.schedule.cron import CronError

    with pytest.raises(CronError, match="never fires"):
        parse("0 0 30 2 *")


def test_cron_is_dst_aware_in_the_users_zone() -> None:
    # 02:30 does not exist in Paris on 2025-03-30 (02:00 -> 03:00): it runs at the first minute after the gap
    t = parse("30 2 * * *").next_after(datetime(2025, 3, 29, 12, tzinfo=UTC), "Europe/Paris")
    assert t.isoformat() == "2025-03-30T03:00:00+02:00"
    t = parse("0 20 * * *").next_after(datetime(2025, 3, 30, 12, tzinfo=UTC), "Europe/Paris")
    assert t.isoformat() == "2025-03-30T20:00:00+02:00"


def _store(tmp_path: Path, clock: datetime = NOW) -> ScheduleStore:
    return ScheduleStore(tmp_path / "s.json", timezone="Europe/Paris", clock=lambda: clock)


def _break(path: Path, **raw: object) -> None:
    data = json.loads(path.read_text()) if path.exists() else {"schedules": []}
    data["schedules"].append({"id": "s-bad", "cron": "0 3 * * *", "job": {"kind": "report"}, **raw})
    path.write_text(json.dumps(data))


def test_a_broken_schedule_is_listed_and_skipped_while_the_others_run(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add(Schedule(id="s-ok", cron="0 20 * * *", job=parse_job("report"), created_at=NOW))
    _break(store.path, timezone="Paris")  # what the old `schedule add --tz Paris` left behind
    [_daily, _ok, bad] = store.entries()
    assert isinstance(bad, BrokenSchedule) and "Paris" in bad.error and "Europe/Paris" in bad.hint
    assert [s.id for s in store.all()] == ["daily", "s-ok"]
    ran: list[Job] = []

    def execute(job: Job) -> str:
        ran.append(job)
        return "ok"

    records = run_due(store, execute, datetime(2026, 12, 8, 20, 0, tzinfo=UTC))
    by_id = {r.schedule_id: r for r in records}
    assert by_id["s-bad"].skipped and not by_id["s-bad"].ok and "Paris" in by_id["s-bad"].outcome
    assert by_id["s-ok"].ok and by_id["daily"].ok and len(ran) == 2


def test_the_agent_reports_a_broken_schedule_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _break(store.path, cron="0 0 30 2 *")
    seen: list[str] = []
    passes = iter(range(3))
    agent_loop(
        store,
        lambda job: "ok",
        on_run=lambda r: seen.append(r.schedule_id),
        stop=lambda: next(passes, None) is None,
        sleep=lambda s: None,
        clock=lambda: NOW,
    )
    assert seen == ["s-bad"]


def test_the_daily_jobs_first_run_is_the_next_slot_after_install(tmp_path: Path) -> None:
    daily = _store(tmp_path).all()[0]
    assert daily.next_run().isoformat() == "2026-12-08T02:00:00+01:00"  # not 2020-01-01
    # later processes read the same anchor
    later = _store(tmp_path, datetime(2026, 12, 7, 23, 0, tzinfo=UTC))
    assert later.all()[0].next_run() == daily.next_run()
    assert run_due(later, lambda job: "ok", datetime(2026, 12, 7, 23, 0, tzinfo=UTC)) == []


def test_an_unusable_configured_zone_breaks_only_the_daily_job(tmp_path: Path) -> None:
    store = ScheduleStore(tmp_path / "s.json", timezone="Mars/Olympus", clock=lambda: NOW)
    store.add(Schedule(id="s-ok", cron="0 20 * * *", job=parse_job("report"), created_at=NOW))
    [daily, ok] = store.entries()
    assert isinstance(daily, BrokenSchedule) and isinstance(ok, Schedule)


def test_an_operation_without_template_or_switch_is_refused_at_add() -> None:
    job = parse_job("stop instances tagged env=dev")
    why = refusal(job, RemediationSettings())
    assert why is not None and "not pre-approved" in why
    with pytest.raises(ScheduleRefusedError) as err:
        check_admissible(job, RemediationSettings())
    assert "--template" in (err.value.hint or "")
    assert refusal(job.model_copy(update={"template": "stop-dev"}), RemediationSettings()) is None
    assert refusal(parse_job("scan"), RemediationSettings()) is None
    public = parse_job("aws.s3.block_public_access target:bucket-1")
    on = RemediationSettings(make_public_buckets_private=True)
    assert refusal(public, on) is None and refusal(public, RemediationSettings()) is not None


def test_cli_add_with_a_bad_zone_saves_nothing_and_list_still_works(escher_home: Path) -> None:
    res = _cli("schedule", "add", "0 20 * * *", "report", "--tz", "Paris")
    assert isinstance(res.exception, TimezoneError)  # type: ignore[attr-defined]
    assert "Europe/Paris" in (res.exception.hint or "")  # type: ignore[attr-defined]
    listed = _cli("schedule", "list")
    assert listed.exit_code == 0  # type: ignore[attr-defined]
    assert [s["id"] for s in json.loads(listed.stdout)] == ["daily"]  # type: ignore[attr-defined]


def test_cli_list_and_run_due_survive_a_broken_schedule(escher_home: Path) -> None:
    assert _cli("schedule", "remove", "daily").exit_code == 0  # type: ignore[attr-defined]
    assert _cli("schedule", "add", "0 20 * * *", "report", "--tz", "Europe/Paris").exit_code == 0  # type: ignore[attr-defined]
    _break(escher_home / "data" / "schedule" / "schedules.json", timezone="Paris")
    listed = json.loads(_cli("schedule", "list").stdout)  # type: ignore[attr-defined]
    assert [s.get("broken", False) for s in listed] == [False, True]
    text = CliRunner().invoke(app, ["schedule", "list"])
    assert text.exit_code == 0 and "BROKEN" in text.stdout and "Europe/Paris" in text.stdout
    specs = CliRunner().invoke(app, ["schedule", "specs", "--cloud", "gcp"])
    assert specs.exit_code == 0 and "BROKEN s-bad" in specs.stderr
    assert [s["schedule"] for s in json.loads(specs.stdout)["gcp"]] == ["0 20 * * *"]
    res = _cli("run-due", "--at", "2026-12-07T09:00:00+00:00")
    assert res.exit_code == 1  # type: ignore[attr-defined]
    [skipped] = json.loads(res.stdout)  # type: ignore[attr-defined]
    assert skipped["skipped"] and skipped["schedule"] == "s-bad"
