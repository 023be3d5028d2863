"""The laptop's runner leaves to an extension what that extension runs (the decision `schedule add` makes), runs
the rest of a job over several clouds itself, reports each skipped schedule once per agent; and the Azure spec
says what the deployed timer does (UTC, every minute; each schedule's slots in its own zone)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escher.schedule.jobs import Job, Schedule, parse_job
from escher.schedule.runner import RunRecord, agent_loop, run_due
from escher.schedule.store import ScheduleStore

CREATED = datetime(2030, 1, 1, tzinfo=UTC)


def _store(tmp_path: Path, *jobs: tuple[str, str]) -> ScheduleStore:
    store = ScheduleStore(tmp_path / "schedules.json", clock=lambda: CREATED)
    store.remove("daily")
    for sid, job in jobs:
        store.add(Schedule(id=sid, cron="0 20 * * *", job=parse_job(job), created_at=CREATED))
    return store


def _gcp_extended(clouds: Iterable[str]) -> list[str]:
    return [c for c in clouds if c == "gcp"]


class _Recorder:
    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def __call__(self, job: Job) -> str:
        self.jobs.append(job)
        return "ran"


def test_a_scan_over_two_clouds_runs_here_only_for_the_one_not_extended(tmp_path: Path) -> None:
    store = _store(tmp_path, ("both", "scan aws gcp"), ("gcp-only", "scan gcp"))
    ran = _Recorder()
    records = run_due(store, ran, datetime(2030, 1, 1, 20, tzinfo=UTC), homes=_gcp_extended)
    by_id = {r.schedule_id: r for r in records}
    assert [j.clouds for j in ran.jobs] == [["aws"]]
    assert by_id["both"].outcome == "ran (the GCP part runs in its extension)" and not by_id["both"].skipped
    assert by_id["gcp-only"] == RunRecord("gcp-only", by_id["gcp-only"].started_at, True,
                                          "not run here: runs in GCP", True)  # fmt: skip
    # the cloud's slot is taken here too: the next one is tomorrow, not this one again
    [gcp_only] = [s for s in store.all() if s.id == "gcp-only"]
    assert gcp_only.last_outcome == "runs in GCP"
    assert gcp_only.next_run() == datetime(2030, 1, 2, 20, tzinfo=UTC)


def test_the_agent_says_once_per_schedule_that_a_cloud_runs_it(tmp_path: Path) -> None:
    store = _store(tmp_path, ("a", "scan gcp"), ("b", "report gcp"))
    seen: list[RunRecord] = []
    clock = iter([datetime(2030, 1, 1, 20, tzinfo=UTC) + timedelta(days=d) for d in range(3)])
    passes = iter([False, False, False, True])
    agent_loop(store, _Recorder(), on_run=seen.append, stop=lambda: next(passes), sleep=lambda _s: None,
               clock=lambda: next(clock, datetime(2030, 1, 9, tzinfo=UTC)),
               homes=lambda: _gcp_extended)  # fmt: skip
    assert [(r.schedule_id, r.outcome) for r in seen] == [
        ("a", "not run here: runs in GCP"),
        ("b", "not run here: runs in GCP"),
    ]


def test_the_decision_is_the_extend_state_as_it_is_now(escher_home: Path) -> None:
    from escher.config import resolve_paths
    from escher.extend.schedules import cloud_homes
    from escher.infra.driver import LocalState

    paths = resolve_paths()
    assert cloud_homes(paths)(["aws", "gcp"]) == []
    local = LocalState.load(paths)
    local.clouds["gcp"] = {"mode": "thin-client"}
    local.save()
    assert cloud_homes(paths)(["aws", "gcp"]) == ["gcp"]
    local.clouds["gcp"] = {"mode": "local", "destroyed_at": "2030-01-01T00:00:00Z"}
    local.save()
    assert cloud_homes(paths)(["aws", "gcp"]) == []


def test_run_due_reads_the_extend_state_by_default(escher_home: Path) -> None:
    from escher.config import resolve_paths

    extend = resolve_paths().data_dir / "extend"
    extend.mkdir(parents=True)
    (extend / "state.json").write_text(json.dumps({"clouds": {"azure": {"mode": "thin-client"}}}))
    store = _store(escher_home, ("vms", "stop azure vms tagged env=dev"))
    ran = _Recorder()
    [record] = run_due(store, ran, datetime(2030, 1, 1, 20, tzinfo=UTC))
    assert record.skipped and record.ok and record.outcome == "not run here: runs in Azure" and ran.jobs == []


def test_the_azure_spec_is_the_every_minute_utc_timer_and_the_schedules_own_zone() -> None:
    from escher.clouds.azure.schedules import AZURE_TIMER
    from escher.schedule.cloud import cloud_specs

    s = Schedule(id="s-1", cron="0 20 * * 1-5", timezone="Europe/Paris", job=parse_job("scan azure"))
    [spec] = cloud_specs([s], ["azure"])["azure"]
    assert spec["timer"] == AZURE_TIMER == "0 * * * * *" and spec["timer_time_zone"] == "UTC"
    assert (spec["cron"], spec["time_zone"]) == ("0 20 * * 1-5", "Europe/Paris")
    assert "schedule" not in spec  # no per-schedule NCRONTAB: nothing deploys one, and it would fire in UTC


def test_the_azure_timer_is_the_one_the_stack_deploys() -> None:
    pytest.importorskip("pulumi")
    from escher.clouds.azure.schedules import AZURE_TIMER
    from escher.infra.azure import USER_SCHEDULES_NCRONTAB

    assert AZURE_TIMER == USER_SCHEDULES_NCRONTAB
