"""What `escher destroy` does with the user schedules, and the laptop's runner around it, through the driver's
destroy path as far as the offline stand-in goes (a fake `pulumi` on PATH, the stack a stand-in, as in
tests/functional/deployed/test_aws_comes_home.py):

- GCP: the stack does not own the Cloud Scheduler jobs the laptop made; destroy deletes every `escher-user-*` job
  after the comes-home import and before the stack goes (requests replayed exactly at the discovery client's
  transport). A job that cannot be deleted, or a list that is refused, does not stop the destroy: the result
  and the local record say so, with the gcloud command that finishes it.
- AWS: the stack owns the schedule group the user schedules are in; deleting the group (what Pulumi does with
  it, here against moto) deletes them: destroy makes no call of its own.
- Azure: nothing per schedule in the cloud: destroy makes no call.
- While the cloud is extended, `run-due` does not run its schedules (the extension does); after destroy it does.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.schedule.jobs import Job
from tests.functional.schedule.test_gcp_user_schedules import (
    API,
    LOCATION,
    PROJECT,
    STOP_DEV,
    Exchange,
    Script,
    extend_gcp,
    google_error,
    job_resource,
    make,
)
from tests.harness.replay import HttplibReplay

JOBS = f"projects/{PROJECT}/locations/{LOCATION}/jobs/"
FINISH = f"gcloud scheduler jobs list --project={PROJECT} --location={LOCATION}"


class _Stack:
    """What is left of a Pulumi stack once its outputs are known: destroy only (no Pulumi CLI here)."""

    def __init__(self, log: list[str], on_destroy: Callable[[], None] = lambda: None) -> None:
        self.log, self.on_destroy = log, on_destroy

    def destroy(self, *, on_event: Callable[[Any], Any] | None = None) -> None:
        self.log.append("stack destroyed")
        self.on_destroy()

    def outputs(self) -> Mapping[str, Any]:
        return {}

    def up(self, *, on_event: Callable[[Any], Any] | None = None) -> Any:
        raise AssertionError("destroy only")

    def set_config(self, key: str, value: Any) -> None:
        raise AssertionError("destroy only")


class _Exporter:
    def export(self, cloud: str, outputs: Mapping[str, Any], dest: Path) -> int:
        return 0


def _destroy(cloud: str, tmp_path: Path, log: list[str], scheduler: Any = None,
             on_destroy: Callable[[], None] = lambda: None) -> Any:  # fmt: skip
    from escher.config import resolve_paths
    from escher.infra import driver

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "pulumi").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "pulumi").chmod(stat.S_IRWXU)

    def importer(cloud: str, outputs: Mapping[str, Any]) -> Mapping[str, Any]:
        log.append("imported")
        return {"pulled": {}, "rejected": []}

    return driver.destroy(cloud, resolve_paths(), exporter=_Exporter(), importer=importer,
                          stack_factory=lambda spec, c, env: _Stack(log, on_destroy), env={"PATH": str(fake_bin)},
                          scheduler=scheduler)  # fmt: skip


def _client(script: Script, log: list[str]) -> Any:
    from escher.clouds.gcp.schedules import scheduler_client

    def answer(method: str, url: str, headers: Any, body: Any) -> tuple[int, dict[str, str], bytes]:
        log.append(f"{method} {url.split('/jobs', 1)[-1] or '/'}")
        return script.answer(method, url, headers, body)

    return scheduler_client(http=HttplibReplay(answer))


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["--output", "json", *args])


def _last_run() -> dict[str, Any]:
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState

    return LocalState.load(resolve_paths()).runs[-1]


class _Recorder:
    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def __call__(self, job: Job) -> str:
        self.jobs.append(job)
        return "done"


def test_gcp_destroy_removes_the_user_jobs_and_the_laptop_runs_the_schedule_again(
    escher_home: Path, tmp_path: Path
) -> None:
    from escher.cli.commands.schedule_cmd import _add_saved, open_schedules
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState
    from escher.schedule.runner import run_due

    # GIVEN GCP extended, the built-in daily job off, and "stop dev at 20:00 Paris" added: a Cloud Scheduler job
    extend_gcp(escher_home, state_url=f"file://{escher_home}/extension")
    store = open_schedules()
    store.remove("daily")
    s = make("0 20 * * 1-5", STOP_DEV)
    script = Script([Exchange("POST", f"{API}?alt=json", job_resource(s), reply=job_resource(s))])
    assert _add_saved(store, s, clients={"gcp": _client(script, [])}) == ["gcp"]
    # THEN `schedule list` says where it runs
    listed = _cli("schedule", "list")
    assert listed.exit_code == 0, listed.output
    assert [(e["id"], e["runs_in"]) for e in json.loads(listed.stdout)] == [(s.id, ["gcp"])]
    text = CliRunner().invoke(app, ["schedule", "list"])
    assert "runs in GCP" in text.output, text.output

    # WHEN its slot comes (Monday 20:00 Paris) and `escher run-due` runs on the laptop
    monday = "2030-01-07T19:00:00+00:00"
    res = _cli("run-due", "--at", monday)
    # THEN the laptop does not run it (the job in GCP does): skipped, not a failure, and its slot is taken
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [
        {"schedule": s.id, "ok": True, "skipped": True, "outcome": "not run here: runs in GCP"}
    ]
    assert _cli("run-due", "--at", monday).stdout.strip() == "[]"

    # WHEN the extension is destroyed: the stack does not own the job, so destroy lists and deletes it
    log: list[str] = []
    script = Script(
        [
            Exchange("GET", f"{API}?pageSize=500&alt=json", None,
                     reply={"jobs": [{"name": f"{JOBS}escher-user-{s.id}"}, {"name": f"{JOBS}daily-scan-1a2b"}]}),
            Exchange("DELETE", f"{API}/escher-user-{s.id}?alt=json", None),
        ]
    )  # fmt: skip
    result = _destroy("gcp", tmp_path, log, _client(script, log))
    # THEN after the comes-home import and before the stack goes; the stack's own daily job is Pulumi's
    assert script.unused() == []
    assert log == ["imported", "GET ?pageSize=500&alt=json", f"DELETE /escher-user-{s.id}?alt=json",
                   "stack destroyed"]  # fmt: skip
    assert result.user_jobs_removed == [f"{JOBS}escher-user-{s.id}"] and result.user_jobs_left == ""
    assert result.user_schedules == "1 user schedule job(s) removed from Cloud Scheduler"
    assert _last_run()["result"] == "succeeded" and _last_run()["user_jobs_removed"] == 1
    assert LocalState.load(resolve_paths()).mode("gcp") == "local"

    # WHEN the next slot comes: GCP is Local Only again, so the laptop runs it (the slot the cloud ran is not
    # run again here: the next one is)
    listed = _cli("schedule", "list")
    assert [e["runs_in"] for e in json.loads(listed.stdout)] == [[]]
    ran = _Recorder()
    assert run_due(open_schedules(), ran, datetime(2030, 1, 7, 19, 30, tzinfo=UTC)) == []
    [record] = run_due(open_schedules(), ran, datetime(2030, 1, 8, 19, 0, tzinfo=UTC))
    assert (record.schedule_id, record.ok, record.skipped, record.outcome) == (s.id, True, False, "done")
    assert ran.jobs == [s.job]


def test_a_refused_list_does_not_stop_the_destroy_and_says_how_to_finish(
    escher_home: Path, tmp_path: Path
) -> None:
    extend_gcp(escher_home, state_url=f"file://{escher_home}/extension")
    log: list[str] = []
    denied = google_error(
        403, "PERMISSION_DENIED", "Permission 'cloudscheduler.jobs.list' denied on resource"
    )
    script = Script([Exchange("GET", f"{API}?pageSize=500&alt=json", None, 403, denied)])
    result = _destroy("gcp", tmp_path, log, _client(script, log))
    assert script.unused() == []
    # the stack still went, everything else of the destroy stands, and the user is told what is left
    assert log[0] == "imported" and log[-1] == "stack destroyed"
    assert result.user_jobs_removed == []
    assert "could not list the user schedules' Cloud Scheduler jobs" in result.user_jobs_left
    assert "cloudscheduler.jobs.list" in result.user_jobs_left
    assert FINISH in result.user_jobs_left and "gcloud scheduler jobs delete --quiet" in result.user_jobs_left
    assert "NOT all removed" in result.user_schedules
    run = _last_run()
    assert run["result"] == "succeeded" and run["user_jobs_removed"] == 0 and FINISH in run["user_jobs_left"]


def test_one_job_that_cannot_be_deleted_does_not_stop_the_others(escher_home: Path, tmp_path: Path) -> None:
    extend_gcp(escher_home, state_url=f"file://{escher_home}/extension")
    log: list[str] = []
    denied = google_error(403, "PERMISSION_DENIED", "Permission 'cloudscheduler.jobs.delete' denied")
    script = Script(
        [
            Exchange("GET", f"{API}?pageSize=500&alt=json", None,
                     reply={"jobs": [{"name": f"{JOBS}escher-user-s-1"}, {"name": f"{JOBS}escher-user-s-2"}]}),
            Exchange("DELETE", f"{API}/escher-user-s-1?alt=json", None, 403, denied),
            Exchange("DELETE", f"{API}/escher-user-s-2?alt=json", None),
        ]
    )  # fmt: skip
    result = _destroy("gcp", tmp_path, log, _client(script, log))
    assert script.unused() == [] and log[-1] == "stack destroyed"
    assert result.user_jobs_removed == [f"{JOBS}escher-user-s-2"]
    assert "could not delete 1 of the 2 user schedules' Cloud Scheduler jobs" in result.user_jobs_left
    assert "cloudscheduler.jobs.delete" in result.user_jobs_left and FINISH in result.user_jobs_left
    assert result.user_schedules.startswith(
        "1 user schedule job(s) removed from Cloud Scheduler; NOT all removed"
    )


def test_no_credentials_for_gcp_does_not_stop_the_destroy(
    escher_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No client given: the real one is built from Application Default Credentials, of which there are none."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    extend_gcp(escher_home, state_url=f"file://{escher_home}/extension")
    log: list[str] = []
    result = _destroy("gcp", tmp_path, log)
    assert log == ["imported", "stack destroyed"]
    assert "could not reach Cloud Scheduler (DefaultCredentialsError" in result.user_jobs_left
    assert FINISH in result.user_jobs_left


def test_azure_destroy_has_no_user_schedule_to_remove(escher_home: Path, tmp_path: Path) -> None:
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState, save_outputs

    paths = resolve_paths()
    save_outputs(paths, "azure", {"cloud": "azure", "state_url": "azblob://state?account_url=https://x"})
    local = LocalState.load(paths)
    local.clouds["azure"] = {"mode": "thin-client"}
    local.save()
    log: list[str] = []
    script = Script([])  # any Cloud Scheduler call would be unscripted
    result = _destroy("azure", tmp_path, log, _client(script, log))
    assert log == ["imported", "stack destroyed"] and script.made == []
    assert (
        result.user_schedules
        == "the user schedules ran on the stack's timer, which went with the function app"
    )
    assert result.user_jobs_left == ""


def test_aws_user_schedules_go_with_the_stacks_schedule_group(
    aws_env: Any, escher_home: Path, tmp_path: Path
) -> None:
    """Against moto: the user schedule is in the stack's group; deleting the group (what Pulumi does with the
    stack's ScheduleGroup) deletes it, so destroy itself makes no scheduler call; then the laptop runs it."""
    import boto3
    from botocore.config import Config

    from escher.cli.commands.schedule_cmd import _add_saved, open_schedules
    from escher.schedule.runner import run_due
    from tests.functional.deployed.test_aws_user_schedules import REGION, ROLE

    scheduler = boto3.client("scheduler", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    group = scheduler.create_schedule_group(Name="escher-test")["ScheduleGroupArn"].split("/")[-1]
    extend = escher_home / "data" / "extend"
    extend.mkdir(parents=True, exist_ok=True)
    (extend / "state.json").write_text(json.dumps({"clouds": {"aws": {"mode": "thin-client"}}, "runs": []}))
    outputs = {
        "cloud": "aws", "region": REGION, "worker": "escher-worker",
        "worker_role": "arn:aws:iam::123456789012:role/escher-worker-role",
        "schedule_group": group, "scheduler_role": ROLE,
    }  # fmt: skip
    (extend / "aws-outputs.json").write_text(json.dumps(outputs))
    store = open_schedules()
    store.remove("daily")
    s = make("0 20 * * *", "aws.ec2.stop_instances tag:env=dev", tz="UTC")
    assert _add_saved(store, s) == ["aws"]
    assert [x["Name"] for x in scheduler.list_schedules(GroupName=group)["Schedules"]] == [
        f"escher-user-{s.id}"
    ]
    [skipped] = run_due(open_schedules(), _Recorder(), datetime(2030, 1, 7, 20, 0, tzinfo=UTC))
    assert skipped.skipped and skipped.outcome == "not run here: runs in AWS"

    log: list[str] = []
    result = _destroy("aws", tmp_path, log, on_destroy=lambda: scheduler.delete_schedule_group(Name=group))
    assert log == ["imported", "stack destroyed"]
    assert result.user_schedules == "the user schedules went with the stack's EventBridge Scheduler group"
    left = [
        x["Name"] for x in scheduler.list_schedules()["Schedules"] if x["Name"].startswith("escher-user-")
    ]
    assert left == []
    ran = _Recorder()
    [record] = run_due(open_schedules(), ran, datetime(2030, 1, 8, 20, 0, tzinfo=UTC))
    assert record.ok and not record.skipped and ran.jobs == [s.job]


# -- schedules the laptop had before `escher extend`: made in the cloud once it is extended ---------------------
def test_schedules_made_before_extending_gcp_get_their_jobs(escher_home: Path) -> None:
    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.config import resolve_paths
    from escher.extend.schedules import mirror_schedules

    store = open_schedules()
    s = make("0 20 * * 1-5", STOP_DEV)
    other = make("0 21 * * *", "aws.ec2.stop_instances tag:env=dev")
    store.add(s)
    store.add(other)
    script = Script([])
    # not extended yet: nothing to make
    assert (
        mirror_schedules(resolve_paths(), "gcp", store.all(), clients={"gcp": _client(script, [])}).made == []
    )
    extend_gcp(escher_home, state_url=f"file://{escher_home}/extension")
    # the built-in daily job is the stack's own and the AWS one is not GCP's: one job, exactly as `schedule add`
    script = Script([Exchange("POST", f"{API}?alt=json", job_resource(s), reply=job_resource(s))])
    done = mirror_schedules(resolve_paths(), "gcp", store.all(), clients={"gcp": _client(script, [])})
    assert script.unused() == []
    assert done.to_dict() == {"cloud": "gcp", "made": [f"{JOBS}escher-user-{s.id}"], "failed": {}}


def test_schedules_made_before_extending_aws_get_theirs_and_one_aws_cannot_express_is_named(
    aws_env: Any, escher_home: Path
) -> None:
    import boto3
    from botocore.config import Config

    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.config import resolve_paths
    from escher.extend.schedules import mirror_schedules
    from tests.functional.deployed.test_aws_user_schedules import REGION, ROLE

    store = open_schedules()
    s = make("0 20 * * 1-5", "aws.ec2.stop_instances tag:env=dev")
    both_days = make("0 6 1 * 1", "aws.ec2.start_instances tag:env=dev")  # EventBridge needs one of them "?"
    store.add(s)
    store.add(both_days)
    scheduler = boto3.client("scheduler", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    group = scheduler.create_schedule_group(Name="escher-test")["ScheduleGroupArn"].split("/")[-1]
    extend = escher_home / "data" / "extend"
    extend.mkdir(parents=True, exist_ok=True)
    (extend / "state.json").write_text(json.dumps({"clouds": {"aws": {"mode": "thin-client"}}, "runs": []}))
    outputs = {
        "cloud": "aws", "region": REGION, "worker": "escher-worker",
        "worker_role": "arn:aws:iam::123456789012:role/escher-worker-role",
        "schedule_group": group, "scheduler_role": ROLE,
    }  # fmt: skip
    (extend / "aws-outputs.json").write_text(json.dumps(outputs))
    done = mirror_schedules(resolve_paths(), "aws", store.all())
    assert done.made == [f"escher-user-{s.id}"] and list(done.failed) == [both_days.id]
    assert "restricts both day-of-month and day-of-week" in done.failed[both_days.id]
    got = scheduler.get_schedule(Name=f"escher-user-{s.id}", GroupName=group)
    assert (
        got["ScheduleExpression"] == "cron(0 20 ? * MON-FRI *)"
        and got["ScheduleExpressionTimezone"] == s.timezone
    )
    # twice changes nothing (create, or update when it exists)
    assert mirror_schedules(resolve_paths(), "aws", store.all()).made == [f"escher-user-{s.id}"]
    assert len(scheduler.list_schedules(GroupName=group)["Schedules"]) == 1
