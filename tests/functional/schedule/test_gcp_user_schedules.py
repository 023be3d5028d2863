"""User schedules while GCP is extended: each is a Cloud Scheduler job made by the laptop with
google-api-python-client's discovery client, its requests replayed at the transport (``httplib2.Http``). The
scripts are exact: every request is checked as it is made (method, URL, body) and every scripted request must
be made. Then the job's body, as the laptop sent it, is posted to the GCP worker in its deployed shape: it runs
the schedule, read from the published settings, against the storage emulator."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from escher.extend.schedules import CloudScheduleError
from escher.schedule.jobs import Schedule, parse_job, schedule_id
from tests.harness.replay import HttplibReplay

PROJECT = "escher-test"
LOCATION = "europe-west1"
WORKER_URL = "https://escher-worker-abc123-ew.a.run.app"
INVOKER = "escher-invoker@escher-test.iam.gserviceaccount.com"
API = f"https://cloudscheduler.googleapis.com/v1/projects/{PROJECT}/locations/{LOCATION}/jobs"


@dataclass
class Exchange:
    method: str
    url: str
    body: dict[str, Any] | None  # the JSON body the request must carry exactly (None: no body)
    status: int = 200
    reply: dict[str, Any] = field(default_factory=dict)


@dataclass
class Script:
    """An exact script: each request must be the next one scripted; ``pending`` must end empty."""

    pending: list[Exchange]
    made: list[tuple[str, str, Any]] = field(default_factory=list)

    def answer(self, method: str, url: str, headers: Any, body: Any) -> tuple[int, dict[str, str], bytes]:
        sent = json.loads(body) if body else None
        self.made.append((method, url, sent))
        assert self.pending, f"unscripted request {method} {url}"
        want = self.pending.pop(0)
        assert (method, url) == (want.method, want.url), f"{method} {url}, expected {want.method} {want.url}"
        assert sent == want.body, f"{method} {url} sent {sent}, expected {want.body}"
        return want.status, {}, json.dumps(want.reply).encode()

    def unused(self) -> list[str]:
        return [f"{e.method} {e.url} -> {e.status}" for e in self.pending]


def client(script: Script) -> Any:
    from escher.clouds.gcp.schedules import scheduler_client

    return scheduler_client(http=HttplibReplay(script.answer))


def google_error(status: int, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": reason}}


def extend_gcp(home: Path, **overrides: Any) -> None:
    """What `escher extend gcp` leaves behind: thin-client mode and the stack's outputs."""
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState, save_outputs

    paths = resolve_paths()
    outputs = {
        "cloud": "gcp", "region": LOCATION, "project": PROJECT, "worker": "escher-worker",
        "worker_url": WORKER_URL, "scheduler_location": LOCATION, "invoker_service_account": INVOKER,
        "state_url": "gs://escher-state", **overrides,
    }  # fmt: skip
    save_outputs(paths, "gcp", {k: v for k, v in outputs.items() if v is not None})
    local = LocalState.load(paths)
    local.clouds["gcp"] = {"mode": "thin-client"}
    local.save()


def make(cron: str, job: str, tz: str = "Europe/Paris") -> Schedule:
    parsed = parse_job(job)
    return Schedule(id=schedule_id(cron, parsed), cron=cron, timezone=tz, job=parsed, created_by="ana")


def job_resource(s: Schedule) -> dict[str, Any]:
    """The Cloud Scheduler job expected for ``s``, written out by hand (not by the code under test)."""
    body = base64.b64encode(json.dumps({"job": "user_schedule", "schedule_id": s.id}).encode()).decode()
    return {
        "name": f"projects/{PROJECT}/locations/{LOCATION}/jobs/escher-user-{s.id}",
        "description": f"escher schedule {s.id}: {s.job.describe()}",
        "schedule": s.cron,
        "timeZone": s.timezone,
        "httpTarget": {
            "uri": WORKER_URL,
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": body,
            "oidcToken": {"serviceAccountEmail": INVOKER, "audience": WORKER_URL},
        },
        "attemptDeadline": "1800s",
        "retryConfig": {"retryCount": 3},
    }


def local_ids() -> list[str]:
    from escher.cli.commands.schedule_cmd import open_schedules

    return [s.id for s in open_schedules().all()]


STOP_DEV = "gcp.compute.stop_instance tag:env=dev"


def test_add_creates_the_job_and_remove_deletes_it(escher_home: Path) -> None:
    from escher.cli.commands.schedule_cmd import _add_saved, _remove_everywhere, open_schedules

    extend_gcp(escher_home)
    s = make("0 20 * * 1-5", STOP_DEV)
    script = Script([Exchange("POST", f"{API}?alt=json", job_resource(s), reply=job_resource(s))])
    assert _add_saved(open_schedules(), s, clients={"gcp": client(script)}) == ["gcp"]
    assert script.unused() == [] and s.id in local_ids()

    script = Script([Exchange("DELETE", f"{API}/escher-user-{s.id}?alt=json", None)])
    assert _remove_everywhere(open_schedules(), s.id, clients={"gcp": client(script)}) == ["gcp"]
    assert script.unused() == [] and s.id not in local_ids()


def test_the_same_schedule_again_updates_its_job(escher_home: Path) -> None:
    """Same cron and job: same id (another zone, here); the job exists, so it is patched to the new one."""
    from escher.cli.commands.schedule_cmd import _add_saved, open_schedules

    extend_gcp(escher_home)
    s = make("@daily", STOP_DEV, tz="America/New_York")
    wanted = {**job_resource(s), "schedule": "0 0 * * *"}  # Cloud Scheduler takes no @daily: spelled out
    script = Script(
        [
            Exchange("POST", f"{API}?alt=json", wanted, 409,
                     google_error(409, "ALREADY_EXISTS", "Job already exists.")),
            Exchange("PATCH", f"{API}/escher-user-{s.id}?alt=json", wanted, reply=wanted),
        ]
    )  # fmt: skip
    _add_saved(open_schedules(), s, clients={"gcp": client(script)})
    assert script.unused() == [] and s.id in local_ids()


def test_a_failed_local_save_deletes_the_job_again(escher_home: Path) -> None:
    from escher.cli.commands.schedule_cmd import _add_saved, open_schedules

    extend_gcp(escher_home)
    s = make("30 7 * * *", STOP_DEV)
    store = open_schedules()
    store.path.parent.parent.mkdir(parents=True, exist_ok=True)
    store.path.parent.write_text("not a folder")  # the schedule list cannot be written
    script = Script(
        [
            Exchange("POST", f"{API}?alt=json", job_resource(s), reply=job_resource(s)),
            Exchange("DELETE", f"{API}/escher-user-{s.id}?alt=json", None),  # the rollback
        ]
    )
    with pytest.raises(OSError):
        _add_saved(store, s, clients={"gcp": client(script)})
    assert script.unused() == []
    store.path.parent.unlink()
    assert s.id not in local_ids()


def test_a_refused_create_saves_nothing_and_says_what_permission_is_missing(escher_home: Path) -> None:
    from escher.cli.commands.schedule_cmd import _add_saved, open_schedules

    extend_gcp(escher_home)
    s = make("0 20 * * *", STOP_DEV)
    denied = google_error(403, "PERMISSION_DENIED", "Permission 'cloudscheduler.jobs.create' denied")
    script = Script([Exchange("POST", f"{API}?alt=json", job_resource(s), 403, denied)])
    with pytest.raises(CloudScheduleError) as err:
        _add_saved(open_schedules(), s, clients={"gcp": client(script)})
    assert script.unused() == []
    assert "could not create the cloud schedule" in err.value.message
    assert "cloudscheduler.jobs.create" in err.value.message
    assert "iam.serviceAccounts.actAs" in (err.value.hint or "")
    assert s.id not in local_ids()


def test_outputs_without_the_invoker_stop_before_any_call(escher_home: Path) -> None:
    from escher.cli.commands.schedule_cmd import _add_saved, open_schedules

    extend_gcp(escher_home, invoker_service_account=None)  # a stack deployed before it output the invoker
    script = Script([])
    with pytest.raises(CloudScheduleError) as err:
        _add_saved(open_schedules(), make("0 20 * * *", STOP_DEV), clients={"gcp": client(script)})
    assert "escher extend gcp" in (err.value.hint or "") and script.made == []
    assert local_ids() == ["daily"]


def test_a_job_of_another_cloud_stays_on_the_laptop(escher_home: Path) -> None:
    from escher.cli.commands.schedule_cmd import _add_saved, open_schedules

    extend_gcp(escher_home)
    s = make("0 20 * * *", "aws.ec2.stop_instances tag:env=dev")
    script = Script([])
    assert _add_saved(open_schedules(), s, clients={"gcp": client(script)}) == []
    assert script.made == [] and s.id in local_ids()


# -- the job's body, as the laptop sent it, runs through the worker in its deployed shape ------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("pulumi")
    from tests.functional.deployed.harness import unpacked_bundle

    return unpacked_bundle("gcp", tmp_path_factory.mktemp("gcp-bundle"))


def test_the_job_fires_the_schedule_through_the_worker_within_the_policy(
    gcs_emulator: Any, escher_home: Path, bundle: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.cli.commands.schedule_cmd import _add_saved, open_schedules
    from escher.config import resolve_paths
    from escher.infra.driver import load_outputs, save_outputs
    from tests.functional.deployed.harness import run_worker
    from tests.functional.deployed.test_gcp_deployed import ESTATE_BUCKET, Deployment, members

    # GIVEN GCP extended (the program's resources and outputs under the mocks, the emulator for GCS); the mocks
    # compute no service account e-mail and no Cloud Run URI: real-shaped ones
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint_url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    deployed = Deployment(gcs_emulator, bundle)
    paths = resolve_paths()
    outputs = load_outputs(paths, "gcp")
    assert {"invoker_service_account", "worker_url"} <= set(outputs) and outputs["scheduler_location"]
    assert outputs["audit_url"] == deployed.env["ESCHER_AUDIT_URL"]
    outputs.update(worker_url=WORKER_URL, invoker_service_account=INVOKER)
    save_outputs(paths, "gcp", outputs)
    bucket = deployed.public_estate_bucket()
    # AND two schedules: one the switch pre-approves, one no switch covers and no template bounds (`schedule
    # add` refuses that one; here it stands for a schedule whose switch was turned off since)
    fix = make("0 3 * * *", f"gcp.storage.remove_public_bindings target:{ESTATE_BUCKET}")
    other = make("0 4 * * *", f"gcp.storage.enable_versioning target:{ESTATE_BUCKET}")
    bodies = []
    for s in (fix, other):
        script = Script([])
        location = outputs["scheduler_location"]
        expected = {
            **job_resource(s),
            "name": f"projects/{PROJECT}/locations/{location}/jobs/escher-user-{s.id}",
        }
        api = f"https://cloudscheduler.googleapis.com/v1/projects/{PROJECT}/locations/{location}/jobs"
        script.pending.append(Exchange("POST", f"{api}?alt=json", expected, reply=expected))
        _add_saved(open_schedules(), s, clients={"gcp": client(script)})
        assert script.unused() == []
        bodies.append(base64.b64decode(script.made[0][2]["httpTarget"]["body"]).decode())
    # AND the switch turned on, which publishes the settings with the schedules (gcp-storage-emulator keeps no
    # generations, so the settings object is published once here)
    deployed.cli("remediation", "enable", "make_public_buckets_private")

    # WHEN Cloud Scheduler posts each job's body to the worker (whose role may run both operations)
    env = deployed.platform_env()
    env["ESCHER_OPERATIONS"] += ",gcp.storage.enable_versioning"
    calls = [["on_schedule", "http", body, {"Content-Type": "application/json"}] for body in bodies]
    run = run_worker(deployed.bundle, env, calls, tmp_path)
    assert run.outside == [], run.outside
    fixed, refused = (r.get("ok") or r for r in run.results)

    # THEN the pre-approved fix ran and the bucket is private; the destructive one was refused by the gate
    assert fixed["status"] == 200, fixed["body"][-3000:]
    result = json.loads(fixed["body"])
    assert result["schedule_id"] == fix.id and result["ok"], result
    assert "allUsers" not in members(bucket)
    assert refused["status"] == 200, refused["body"][-3000:]
    result = json.loads(refused["body"])
    assert result["schedule_id"] == other.id and not result["ok"], result
    assert "not pre-approved" in result["refused"], result
    bucket.reload()
    assert not bucket.versioning_enabled


def test_a_teardown_can_delete_every_user_job_the_stack_does_not_own(escher_home: Path) -> None:
    """The laptop made the jobs, so the stack's destroy does not delete them: delete_user_jobs does (paged
    list, only escher-user-*; the stack's daily job stays for Pulumi to delete)."""
    from escher.clouds.gcp.schedules import GcpScheduleTarget, delete_user_jobs

    target = GcpScheduleTarget(PROJECT, LOCATION, WORKER_URL, INVOKER)
    job = f"projects/{PROJECT}/locations/{LOCATION}/jobs/"
    script = Script(
        [
            Exchange("GET", f"{API}?pageSize=500&alt=json", None,
                     reply={"jobs": [{"name": f"{job}escher-user-s-1"}, {"name": f"{job}daily-scan-1a2b"}],
                            "nextPageToken": "p2"}),
            Exchange("GET", f"{API}?pageSize=500&alt=json&pageToken=p2", None,
                     reply={"jobs": [{"name": f"{job}escher-user-s-2"}]}),
            Exchange("DELETE", f"{API}/escher-user-s-1?alt=json", None),
            Exchange("DELETE", f"{API}/escher-user-s-2?alt=json", None, 404,
                     google_error(404, "NOT_FOUND", "Job not found.")),
        ]
    )  # fmt: skip
    assert delete_user_jobs(target, client(script)) == [f"{job}escher-user-s-1"]
    assert script.unused() == []
