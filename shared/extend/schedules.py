"""User schedules in the cloud: ``escher schedule add|remove`` mirrored to the extension of the job's cloud.

A schedule runs in the extension of each cloud its job names (an operation: its cloud; a scan or report: the
clouds it lists) that is extended; the others stay on the laptop. :func:`cloud_homes` decides it, for
``schedule add|remove`` here and for the laptop's runner (``run-due``, ``escher agent``: it does not run what a
cloud runs), from the extend state as it is now: after ``escher destroy`` the laptop runs them again.
:func:`add_in_clouds` /
:func:`remove_in_clouds` do it for all three: AWS here (below), GCP a Cloud Scheduler job
(:mod:`escher.clouds.gcp.schedules`), Azure the published settings, run by the stack's every-minute timer
(:mod:`escher.clouds.azure.schedules`).

AWS: EventBridge Scheduler schedules.

When AWS is extended (``<data dir>/extend/state.json`` says thin-client), each user schedule also exists as
``escher-user-<id>`` in the stack's schedule group, firing ``cron(...)`` in the schedule's own time zone at the
worker Lambda with ``{"job": "user_schedule", "schedule_id": ...}``; the worker reads the schedule itself from
the published settings (``escher.pipeline.jobs``), so the cloud schedule carries no job text to drift.

Why directly with boto3 and not through the Pulumi stack: a ``pulumi up`` per ``schedule add`` takes a minute,
needs the Pulumi CLI on the laptop and rewrites the whole stack; the direct call needs only
``scheduler:CreateSchedule`` / ``DeleteSchedule`` on ``schedule/<group>/escher-user-*`` and ``iam:PassRole``
on the stack's scheduler role, which may invoke only the worker. The stack owns the group: ``escher destroy``
deletes the group, and the user schedules in it with it (on GCP the stack owns no user job: destroy deletes
them first, :func:`escher.clouds.gcp.schedules.remove_user_jobs`; on Azure there is nothing per schedule).

The cloud schedule is created first; the caller saves the local one only after it exists (and removes the cloud
one again if saving fails), so the two never disagree about what runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.schedule.jobs import Schedule

__all__ = [
    "USER_PREFIX",
    "AwsScheduleTarget",
    "CloudScheduleError",
    "Mirrored",
    "add_in_clouds",
    "aws_target",
    "cloud_homes",
    "create_aws",
    "delete_aws",
    "mirror_schedules",
    "remove_in_clouds",
    "runs_in",
    "schedule_name",
    "user_schedule_input",
]

USER_PREFIX = "escher-user-"
JOB = "user_schedule"


class CloudScheduleError(EscherError):
    """The cloud schedule could not be created or removed; nothing was changed locally."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class AwsScheduleTarget:
    """What a user schedule needs from the AWS extension's outputs."""

    region: str
    group: str
    worker_arn: str
    role_arn: str
    dead_letter_arn: str | None = None


def schedule_name(schedule_id: str) -> str:
    return f"{USER_PREFIX}{schedule_id}"


def user_schedule_input(schedule_id: str) -> dict[str, str]:
    return {"job": JOB, "schedule_id": schedule_id}


def _redeploy(what: str) -> CloudScheduleError:
    return CloudScheduleError(
        f"the AWS extension's outputs name no {what}, which a cloud schedule needs",
        hint="run `escher extend aws` again with this Escher version (it outputs scheduler_role and "
        "worker_arn), then add the schedule again; nothing was saved",
    )


def aws_target(paths: Paths) -> AwsScheduleTarget | None:
    """The extension's schedule target when AWS is extended, else None (schedules stay on the laptop)."""
    from escher.infra.driver import load_outputs
    from escher.infra.sync import extended_clouds

    if "aws" not in extended_clouds(paths):
        return None
    out: dict[str, Any] = load_outputs(paths, "aws")
    region, group = out.get("region"), out.get("schedule_group")
    role = out.get("scheduler_role")
    worker_arn = out.get("worker_arn")
    if not worker_arn and out.get("worker") and str(out.get("worker_role", "")).startswith("arn:"):
        # arn:<partition>:iam::<account>:role/...: the worker is in the same account and partition
        parts = str(out["worker_role"]).split(":")
        worker_arn = f"arn:{parts[1]}:lambda:{region}:{parts[4]}:function:{out['worker']}"
    if not region or not group:
        raise _redeploy("region or schedule_group")
    if not worker_arn:
        raise _redeploy("worker Lambda")
    if not role:
        raise _redeploy("scheduler role")
    dlq = out.get("dead_letter_arn")
    return AwsScheduleTarget(str(region), str(group), str(worker_arn), str(role), str(dlq) if dlq else None)


def _failed(action: str, schedule_id: str, exc: BaseException) -> CloudScheduleError:
    from escher.clouds.aws import translate

    known = translate(exc)
    detail = known.message if known is not None else str(exc)
    hint = (known.hint if known is not None and known.hint else "") or (
        "the extension's operator needs scheduler:CreateSchedule / DeleteSchedule on escher-user-* in the "
        "schedule group and iam:PassRole on its scheduler role; see `escher extend status`"
    )
    return CloudScheduleError(f"could not {action} the cloud schedule for {schedule_id}: {detail}", hint=hint)


def create_aws(target: AwsScheduleTarget, schedule: Schedule, client: Any = None) -> str:
    """Create (or replace) the EventBridge schedule of ``schedule``; returns its name."""
    from escher.clouds.aws import client as aws_client
    from escher.clouds.aws import error_code, errors
    from escher.schedule.cloud import to_eventbridge

    scheduler = client or aws_client("scheduler", target.region)
    name = schedule_name(schedule.id)
    spec: dict[str, Any] = {
        "Arn": target.worker_arn,
        "RoleArn": target.role_arn,
        "Input": json.dumps(user_schedule_input(schedule.id)),
        "RetryPolicy": {"MaximumRetryAttempts": 3},
    }
    if target.dead_letter_arn:
        spec["DeadLetterConfig"] = {"Arn": target.dead_letter_arn}
    args: dict[str, Any] = {
        "Name": name,
        "GroupName": target.group,
        "ScheduleExpression": to_eventbridge(schedule.cron),
        "ScheduleExpressionTimezone": schedule.timezone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": spec,
        "Description": f"escher schedule {schedule.id}: {schedule.job.describe()}"[:512],
    }
    try:
        try:
            scheduler.create_schedule(**args)
        except errors() as exc:
            if error_code(exc) != "ConflictException":
                raise
            scheduler.update_schedule(**args)  # the same id again: same cron and job, so same schedule
    except errors() as exc:
        raise _failed("create", schedule.id, exc) from None
    return name


def delete_aws(target: AwsScheduleTarget, schedule_id: str, client: Any = None) -> bool:
    """Delete the EventBridge schedule of ``schedule_id``; False when there was none (already gone)."""
    from escher.clouds.aws import client as aws_client
    from escher.clouds.aws import error_code, errors, is_not_found

    scheduler = client or aws_client("scheduler", target.region)
    try:
        scheduler.delete_schedule(Name=schedule_name(schedule_id), GroupName=target.group)
    except errors() as exc:
        if is_not_found(exc) or error_code(exc) == "ResourceNotFoundException":
            return False
        raise _failed("remove", schedule_id, exc) from None
    return True


# -- all three clouds ---------------------------------------------------------------------------------------------
CLOUD_NAMES = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


def runs_in(job_clouds: Iterable[str], extended: Iterable[str]) -> list[str]:
    """The extended clouds that run a job of ``job_clouds`` (in the order aws, azure, gcp)."""
    wanted, have = set(job_clouds), set(extended)
    from escher.clouds import CLOUDS

    return [c for c in CLOUDS if c in wanted and c in have]


def cloud_homes(paths: Paths) -> Callable[[Iterable[str]], list[str]]:
    """job clouds -> the extended clouds that run the job (:func:`runs_in` over the extend state, read once
    now): what ``schedule add|remove`` mirrors to and what the laptop's runner leaves to the cloud."""
    extended = _extended(paths)
    return lambda job_clouds: runs_in(job_clouds, extended)


@dataclass
class _Remote:
    """One extended cloud's schedule calls, with its target resolved (so a missing output stops before any
    cloud is changed)."""

    cloud: str
    create: Callable[[Schedule], str]
    delete: Callable[[str], bool]


def _remotes(paths: Paths, clouds: list[str], clients: Mapping[str, Any]) -> list[_Remote]:
    from functools import partial

    out: list[_Remote] = []
    if "aws" in clouds:
        aws = aws_target(paths)
        if aws is not None:
            client = clients.get("aws")
            out.append(_Remote("aws", partial(_create_aws, aws, client), partial(_delete_aws, aws, client)))
    if "gcp" in clouds:
        from escher.clouds.gcp.schedules import create_gcp, delete_gcp, gcp_target

        gcp = gcp_target(paths)
        if gcp is not None:
            client = clients.get("gcp")
            out.append(
                _Remote(
                    "gcp",
                    lambda s: create_gcp(gcp, s, client),
                    lambda schedule_id: delete_gcp(gcp, schedule_id, client),
                )
            )
    return out


def _create_aws(target: AwsScheduleTarget, client: Any, schedule: Schedule) -> str:
    return create_aws(target, schedule, client)


def _delete_aws(target: AwsScheduleTarget, client: Any, schedule_id: str) -> bool:
    return delete_aws(target, schedule_id, client)


def _extended(paths: Paths) -> list[str]:
    from escher.infra.sync import extended_clouds

    return extended_clouds(paths)


def add_in_clouds(
    paths: Paths,
    schedule: Schedule,
    save: Callable[[], object],
    *,
    clients: Mapping[str, Any] | None = None,
    publish: Callable[[Paths], int] | None = None,
    unsave: Callable[[], object] | None = None,
) -> list[str]:
    """Create ``schedule`` in every extended cloud that runs it, save it on the laptop (``save``), then publish
    the settings to Azure when Azure runs it; the clouds it now runs in. A failure at any step undoes the
    steps before it (the cloud schedules are deleted, ``unsave`` undoes the save), so the laptop and the
    clouds never disagree about what runs. ``clients``: cloud -> SDK client (tests replay there)."""
    clouds = cloud_homes(paths)(schedule.job.clouds)
    remotes = _remotes(paths, clouds, clients or {})
    made: list[_Remote] = []
    try:
        for remote in remotes:
            remote.create(schedule)
            made.append(remote)
        save()
        if "azure" in clouds:
            try:
                (publish or _publish_azure)(paths)
            except BaseException:
                if unsave is not None:
                    unsave()
                raise
    except BaseException:
        for remote in reversed(made):
            remote.delete(schedule.id)
        raise
    return clouds


def remove_in_clouds(
    paths: Paths,
    schedule_id: str,
    job_clouds: Iterable[str],
    remove: Callable[[], object],
    *,
    restore: Callable[[], object] | None = None,
    clients: Mapping[str, Any] | None = None,
    publish: Callable[[Paths], int] | None = None,
) -> list[str]:
    """Delete the cloud schedules of ``schedule_id`` first (a failure leaves the laptop's, which still runs
    there), then remove it on the laptop (``remove``), then publish to Azure when Azure ran it (a failure puts
    the laptop's back with ``restore``: Azure still runs it). The clouds it ran in."""
    clouds = cloud_homes(paths)(job_clouds)
    for remote in _remotes(paths, clouds, clients or {}):
        remote.delete(schedule_id)
    remove()
    if "azure" in clouds:
        try:
            (publish or _publish_azure)(paths)
        except BaseException:
            if restore is not None:
                restore()
            raise
    return clouds


@dataclass
class Mirrored:
    """What :func:`mirror_schedules` did: the cloud schedules made (names), and each schedule it could not."""

    cloud: str
    made: list[str]
    failed: dict[str, str]  # schedule id -> why

    def to_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "made": self.made, "failed": self.failed}


def mirror_schedules(
    paths: Paths, cloud: str, schedules: Iterable[Schedule], *, clients: Mapping[str, Any] | None = None
) -> Mirrored:
    """Make the cloud schedule of every laptop schedule that ``cloud`` runs, once ``cloud`` is extended: the
    schedules added before ``escher extend`` (or kept through a destroy and an extend again), which the
    laptop's runner now leaves to the extension (:func:`cloud_homes`). Create or update, so running it twice
    changes nothing. Azure has nothing per schedule (the published settings carry them); the built-in daily
    job is the stack's own. Never raises: the deployment stands; what failed is in ``failed``."""
    if cloud not in _extended(paths) or cloud == "azure":
        return Mirrored(cloud, [], {})
    wanted = [s for s in schedules if s.id != "daily" and runs_in(s.job.clouds, [cloud])]
    if not wanted:
        return Mirrored(cloud, [], {})
    clients = dict(clients or {})
    try:
        if cloud == "gcp" and clients.get("gcp") is None:
            clients["gcp"] = _gcp_client()
        [remote] = _remotes(paths, [cloud], clients)
    except EscherError as exc:  # outputs the schedules need are missing, no GCP credentials
        return Mirrored(cloud, [], {s.id: str(exc) for s in wanted})
    made, failed = [], {}
    for s in wanted:
        try:
            made.append(remote.create(s))
        except EscherError as exc:  # CloudScheduleError, or a cron the cloud cannot express (CronError)
            failed[s.id] = str(exc)
    return Mirrored(cloud, made, failed)


def _gcp_client() -> Any:
    """The Cloud Scheduler client from Application Default Credentials; none is an error that says what to do."""
    from escher.clouds import gcp
    from escher.clouds.gcp.schedules import scheduler_client

    try:
        return scheduler_client()
    except gcp.auth_errors() as exc:
        raise CloudScheduleError(
            f"no GCP credentials to make the cloud schedules with: {exc}",
            hint="run `gcloud auth application-default login`, then `escher extend gcp` again",
        ) from None


def _publish_azure(paths: Paths) -> int:
    from escher.clouds.azure.schedules import publish_azure

    return publish_azure(paths)
