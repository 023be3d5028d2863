"""User schedules on GCP: one Cloud Scheduler job per ``escher schedule add``, made directly by the laptop.

Each user schedule is the job ``projects/<project>/locations/<location>/jobs/escher-user-<id>``: the schedule's
own unix-cron string and time zone (Cloud Scheduler takes both as they are, DST included), an HTTP target on
the worker's URL with an OIDC token of the stack's invoker service account (audience: the URL), exactly as the
stack's daily job calls it (:mod:`escher.infra.gcp`), and the body ``{"job": "user_schedule", "schedule_id":
...}``; the worker reads what to run from the published settings (:mod:`escher.pipeline.user_schedules`).

Why not through the stack: as on AWS, a ``pulumi up`` per schedule is a minute, the Pulumi CLI and a rewrite of
the stack. The direct call is google-api-python-client's discovery client for ``cloudscheduler`` v1 (its
discovery document ships with the package: no fetch, no new dependency) and needs only
``cloudscheduler.jobs.create`` / ``update`` / ``delete`` in the stack's project (e.g. ``roles/cloudscheduler.admin``
on the project, or a custom role with those three) and ``iam.serviceAccounts.actAs`` on the invoker service
account (``roles/iam.serviceAccountUser`` on that one account), since a job that mints its OIDC tokens acts as
it. The stack grants the laptop nothing: its deployer has these already; anyone else is given them by hand.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escher.extend.schedules import CloudScheduleError, schedule_name, user_schedule_input

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.schedule.jobs import Schedule

__all__ = [
    "ATTEMPT_DEADLINE",
    "GcpScheduleTarget",
    "UserJobsCleanup",
    "UserJobsLeftError",
    "create_gcp",
    "default_client",
    "delete_gcp",
    "delete_user_jobs",
    "finish_command",
    "gcp_target",
    "job_body",
    "remote",
    "remove_user_jobs",
    "spec",
    "where",
]

# as the stack's daily job (infra/gcp.py SCAN_DEADLINE_SECONDS): a run that outlives it would be retried while
# it still runs
ATTEMPT_DEADLINE = "1800s"
RETRIES = 3  # googleapiclient's own retries of 5xx / 429 / connection errors, with backoff


@dataclass(frozen=True, slots=True)
class GcpScheduleTarget:
    """What a user schedule needs from the GCP extension's outputs."""

    project: str
    location: str
    worker_url: str
    invoker: str  # the service account the job's OIDC token is minted for

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def job_name(self, schedule_id: str) -> str:
        return f"{self.parent}/jobs/{schedule_name(schedule_id)}"


def _redeploy(what: str) -> CloudScheduleError:
    return CloudScheduleError(
        f"the GCP extension's outputs name no {what}, which a cloud schedule needs",
        hint="run `escher extend gcp` again with this Escher version (it outputs scheduler_location and "
        "invoker_service_account), then add the schedule again; nothing was saved",
    )


def gcp_target(paths: Paths) -> GcpScheduleTarget | None:
    """The extension's schedule target when GCP is extended, else None."""
    from escher.infra.driver import load_outputs
    from escher.infra.sync import extended_clouds

    if "gcp" not in extended_clouds(paths):
        return None
    out: dict[str, Any] = load_outputs(paths, "gcp")
    project = out.get("project")
    location = out.get("scheduler_location") or out.get("region")
    if not project or not location:
        raise _redeploy("project or scheduler location")
    if not out.get("worker_url"):
        raise _redeploy("worker URL")
    if not out.get("invoker_service_account"):
        raise _redeploy("invoker service account")
    return GcpScheduleTarget(
        str(project), str(location), str(out["worker_url"]), str(out["invoker_service_account"])
    )


def scheduler_client(http: Any = None) -> Any:
    """Cloud Scheduler v1 from the discovery document shipped with google-api-python-client (no fetch).
    ``http``: an ``httplib2.Http``-like object (tests replay there); default: Application Default Credentials."""
    from escher.clouds import gcp

    return gcp.discovery_client("cloudscheduler", "v1", http=http)


def job_body(target: GcpScheduleTarget, schedule: Schedule) -> dict[str, Any]:
    """The Cloud Scheduler job of ``schedule`` (the REST resource, as the API takes it)."""
    from escher.schedule.cron import parse

    body = json.dumps(user_schedule_input(schedule.id)).encode()
    return {
        "name": target.job_name(schedule.id),
        "description": f"escher schedule {schedule.id}: {schedule.job.describe()}"[:500],
        "schedule": parse(schedule.cron).text,  # "@daily" and the like spelled out
        "timeZone": schedule.timezone,
        "httpTarget": {
            "uri": target.worker_url,
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": base64.b64encode(body).decode(),  # the API takes bytes as base64
            "oidcToken": {"serviceAccountEmail": target.invoker, "audience": target.worker_url},
        },
        "attemptDeadline": ATTEMPT_DEADLINE,
        "retryConfig": {"retryCount": RETRIES},
    }


def _status(exc: BaseException) -> int | None:
    status = getattr(getattr(exc, "resp", None), "status", None)
    return int(status) if isinstance(status, int | str) and str(status).isdigit() else None


def _failed(action: str, schedule_id: str, exc: BaseException) -> CloudScheduleError:
    from escher.clouds.gcp import translate

    known = translate(exc)
    detail = known.message if known is not None else str(exc)
    hint = (
        "the laptop's identity needs cloudscheduler.jobs.create / update / delete in the stack's project and "
        "iam.serviceAccounts.actAs on the invoker service account (the output invoker_service_account); "
        "see `escher extend status`"
    )
    if known is not None and known.hint and _status(exc) not in (403,):
        hint = known.hint
    return CloudScheduleError(f"could not {action} the cloud schedule for {schedule_id}: {detail}", hint=hint)


def create_gcp(target: GcpScheduleTarget, schedule: Schedule, client: Any = None) -> str:
    """Create (or update, when it exists: the same id with another time zone) the job; returns its name."""
    from escher.clouds.gcp import errors

    jobs = (client or scheduler_client()).projects().locations().jobs()
    body = job_body(target, schedule)
    try:
        try:
            jobs.create(parent=target.parent, body=body).execute(num_retries=RETRIES)
        except errors() as exc:
            if _status(exc) != 409:
                raise
            jobs.patch(name=body["name"], body=body).execute(num_retries=RETRIES)
    except errors() as exc:
        raise _failed("create", schedule.id, exc) from None
    return str(body["name"])


def delete_gcp(target: GcpScheduleTarget, schedule_id: str, client: Any = None) -> bool:
    """Delete the job of ``schedule_id``; False when there was none (already gone)."""
    from escher.clouds.gcp import errors

    jobs = (client or scheduler_client()).projects().locations().jobs()
    try:
        jobs.delete(name=target.job_name(schedule_id)).execute(num_retries=RETRIES)
    except errors() as exc:
        if _status(exc) == 404:
            return False
        raise _failed("remove", schedule_id, exc) from None
    return True


class UserJobsLeftError(CloudScheduleError):
    """Some user-schedule jobs were not deleted: ``deleted`` were; ``left`` were not (None: the list failed, so
    which ones is not known)."""

    def __init__(self, message: str, *, hint: str, deleted: list[str], left: list[str] | None) -> None:
        super().__init__(message, hint=hint)
        self.deleted = deleted
        self.left = left


def finish_command(project: str, location: str) -> str:
    """The gcloud command that deletes every user-schedule job left in ``location`` (what a teardown could not)."""
    where = f"--project={project} --location={location}"
    return (
        f"gcloud scheduler jobs list {where} --filter='name~/jobs/escher-user-' "
        f"--format='value(name.basename())' | xargs -r -n1 gcloud scheduler jobs delete --quiet {where}"
    )


def delete_user_jobs(target: GcpScheduleTarget, client: Any = None) -> list[str]:
    """Delete every user-schedule job (``escher-user-*``) in the stack's location; their names. The stack does
    not own them (the laptop made them), so a teardown calls this first: a job left behind would keep calling
    a worker that is gone. Needs ``cloudscheduler.jobs.list`` besides ``delete``. One job that cannot be
    deleted does not stop the others: :class:`UserJobsLeftError` names both kinds at the end."""
    from escher.clouds.gcp import errors
    from escher.extend.schedules import USER_PREFIX

    service = client or scheduler_client()
    jobs = service.projects().locations().jobs()
    names: list[str] = []
    finish = finish_command(target.project, target.location)
    try:
        request = jobs.list(parent=target.parent, pageSize=500)
        while request is not None:
            page = request.execute(num_retries=RETRIES)
            names += [
                str(j["name"])
                for j in page.get("jobs", [])
                if str(j.get("name", "")).rsplit("/", 1)[-1].startswith(USER_PREFIX)
            ]
            request = jobs.list_next(request, page)
    except errors() as exc:
        from escher.clouds.gcp import translate

        known = translate(exc)
        raise UserJobsLeftError(
            f"could not list the user schedules' Cloud Scheduler jobs in {target.parent}: "
            + (known.message if known is not None else str(exc)),
            hint="the identity needs cloudscheduler.jobs.list and .delete there; or delete the jobs "
            f"named {USER_PREFIX}* in the console, or with: {finish}",
            deleted=[],
            left=None,
        ) from None
    deleted: list[str] = []
    left: list[tuple[str, str]] = []  # (name, why)
    for name in names:
        try:
            if delete_gcp(target, name.rsplit("/", 1)[-1].removeprefix(USER_PREFIX), client=service):
                deleted.append(name)
        except CloudScheduleError as exc:
            left.append((name, exc.message))
    if left:
        raise UserJobsLeftError(
            f"could not delete {len(left)} of the {len(names)} user schedules' Cloud Scheduler jobs in "
            f"{target.parent}: " + "; ".join(why for _, why in left[:3]),
            hint=f"the identity needs cloudscheduler.jobs.delete there; or delete them with: {finish}",
            deleted=deleted,
            left=[name for name, _ in left],
        )
    return deleted


@dataclass(frozen=True, slots=True)
class UserJobsCleanup:
    """What a teardown did with the user schedules' jobs: ``removed`` (their names); ``error``: why some or
    all were not (with the gcloud command that finishes it), empty when none is left."""

    removed: list[str]
    error: str = ""


def remove_user_jobs(outputs: Mapping[str, Any], client: Any = None) -> UserJobsCleanup:
    """:func:`delete_user_jobs` for a teardown, from the stack's ``outputs``: it never raises, so the rest of the
    teardown (the comes-home import, the stack) is not lost; what could not be done is in ``error``, said with
    the command that finishes it. ``client``: the Cloud Scheduler client (tests replay there)."""
    from escher.clouds import gcp
    from escher.errors import EscherError

    project = outputs.get("project")
    location = outputs.get("scheduler_location") or outputs.get("region")
    if not project or not location:
        return UserJobsCleanup(
            [],
            "the GCP outputs name no project or scheduler location, so the user schedules' Cloud Scheduler "
            "jobs (escher-user-*) were not looked for; delete them with: "
            + finish_command(str(project or "PROJECT"), str(location or "LOCATION")),
        )
    target = GcpScheduleTarget(str(project), str(location), str(outputs.get("worker_url", "")), "")
    finish = finish_command(target.project, target.location)
    try:
        failures = gcp.transient_errors()
    except EscherError as exc:  # the GCP SDK is not installed here
        return UserJobsCleanup([], f"{exc.message}; {exc.hint}; or delete the jobs with: {finish}")
    try:
        return UserJobsCleanup(delete_user_jobs(target, client))
    except UserJobsLeftError as exc:
        return UserJobsCleanup(exc.deleted, f"{exc.message}; {exc.hint}")
    except EscherError as exc:
        return UserJobsCleanup([], f"{exc.message}; delete the jobs with: {finish}")
    except failures as exc:  # credentials (none, expired), the network
        return UserJobsCleanup(
            [],
            f"could not reach Cloud Scheduler ({type(exc).__name__}: {exc}); delete the jobs with: {finish}",
        )


# -- what the generic side (escher.extend.schedules, escher.schedule.cloud) asks of every cloud's schedules ------
def remote(
    paths: Paths, client: Any = None
) -> tuple[Callable[[Schedule], str], Callable[[str], bool]] | None:
    """The create and delete calls of the project's Cloud Scheduler, or None when GCP is not extended."""
    found = gcp_target(paths)
    if found is None:
        return None
    return (lambda s: create_gcp(found, s, client)), (
        lambda schedule_id: delete_gcp(found, schedule_id, client)
    )


def default_client() -> Any:
    """The Cloud Scheduler client from Application Default Credentials; none is an error that says what to do."""
    from escher.clouds import gcp

    try:
        return scheduler_client()
    except gcp.auth_errors() as exc:
        raise CloudScheduleError(
            f"no GCP credentials to make the cloud schedules with: {exc}",
            hint="run `gcloud auth application-default login`, then `escher extend gcp` again",
        ) from None


def where(schedule_id: str) -> str:
    return f"Runs in GCP: Cloud Scheduler job {schedule_name(schedule_id)}."


def spec(schedule: Schedule, name: str, payload: dict[str, Any], group: str) -> dict[str, Any]:
    """The schedule as Cloud Scheduler spells it (``escher schedule specs``): unix cron in its own zone."""
    return {"name": name, "schedule": schedule.cron, "time_zone": schedule.timezone, "body": payload}
