"""AWS's user schedules: an EventBridge Scheduler schedule per ``escher schedule add`` (the generic side, which
cloud runs what and the order of create/save/undo, is :mod:`escher.extend.schedules`).

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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escher.extend.schedules import CloudScheduleError, schedule_name, user_schedule_input
from escher.schedule.cron import CronError, parse

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.schedule.jobs import Schedule

__all__ = ["AwsScheduleTarget", "create", "delete", "remote", "spec", "target", "to_eventbridge", "where"]

_DOW = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True, slots=True)
class AwsScheduleTarget:
    """What a user schedule needs from the AWS extension's outputs."""

    region: str
    group: str
    worker_arn: str
    role_arn: str
    dead_letter_arn: str | None = None


def _redeploy(what: str) -> CloudScheduleError:
    return CloudScheduleError(
        f"the AWS extension's outputs name no {what}, which a cloud schedule needs",
        hint="run `escher extend aws` again with this Escher version (it outputs scheduler_role and "
        "worker_arn), then add the schedule again; nothing was saved",
    )


def target(paths: Paths) -> AwsScheduleTarget | None:
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


def create(target: AwsScheduleTarget, schedule: Schedule, client: Any = None) -> str:
    """Create (or replace) the EventBridge schedule of ``schedule``; returns its name."""
    from escher.clouds.aws import client as aws_client
    from escher.clouds.aws import error_code, errors

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


def delete(target: AwsScheduleTarget, schedule_id: str, client: Any = None) -> bool:
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


def remote(
    paths: Paths, client: Any = None
) -> tuple[Callable[[Schedule], str], Callable[[str], bool]] | None:
    """The create and delete calls of the extension's schedule group, or None when AWS is not extended."""
    found = target(paths)
    if found is None:
        return None
    return (lambda s: create(found, s, client)), (lambda schedule_id: delete(found, schedule_id, client))


def where(schedule_id: str) -> str:
    return f"Runs in AWS: EventBridge Scheduler schedule {schedule_name(schedule_id)}."


def spec(schedule: Schedule, name: str, payload: dict[str, Any], group: str) -> dict[str, Any]:
    """The schedule as EventBridge Scheduler spells it (``escher schedule specs``)."""
    return {
        "name": name,
        "group_name": group,
        "schedule_expression": to_eventbridge(schedule.cron),
        "schedule_expression_timezone": schedule.timezone,
        "flexible_time_window": {"mode": "OFF"},
        "input": payload,
    }


def _dow_names(field: str) -> str:
    def one(token: str) -> str:
        return _DOW[int(token) % 7] if token.isdigit() else token.upper()

    out = []
    for part in field.split(","):
        body, slash, step = part.partition("/")
        if "-" in body:
            a, b = body.split("-", 1)
            body = f"{one(a)}-{one(b)}"
        elif body != "*":
            body = one(body)
        out.append(body + (slash + step if slash else ""))
    return ",".join(out)


def to_eventbridge(cron: str) -> str:
    """Unix cron -> EventBridge Scheduler ``cron(min hour dom month dow year)``; one of dom/dow must be ``?``."""
    expr = parse(cron)
    minute, hour, dom, month, dow = expr.fields
    if not expr.dom_any and not expr.dow_any:
        raise CronError(
            f"{cron!r} restricts both day-of-month and day-of-week, which EventBridge cannot express",
            hint="split it into two schedules",
        )
    if expr.dow_any:
        return f"cron({minute} {hour} {dom} {month.upper()} ? *)"
    return f"cron({minute} {hour} ? {month.upper()} {_dow_names(dow)} *)"
