"""The ``user_schedule`` job: a schedule made with ``escher schedule add``, fired by the cloud scheduler.

The scheduler's input names the schedule only (``{"job": "user_schedule", "schedule_id": ...}``,
:mod:`escher.extend.schedules`); what it runs is read from the settings the laptop published, so a schedule
removed or changed on the laptop runs as the laptop has it now, never as it was when the cloud schedule was made.

An operation runs under the same bounds as on the laptop (:func:`escher.schedule.execute._operation`): with a
manager's template, as an executor inside the template's bounds (tags, count, regions, window); without one, as
the automation persona, which the gate lets through only for a pre-approved ``[remediation]`` switch. The gate
and the engine write every decision and change to the worker's audit objects; a schedule that cannot run (gone
from the settings, its template gone, another cloud's operation) is refused with an audit record
(``schedule.refused``) rather than dead-lettered, since a retry would be refused the same way. Scans and
reports run as the daily job (scan, cost, report), the one form of them a worker has.

Where the cloud has no scheduler to hold one schedule each (Azure: :mod:`escher.clouds.azure.schedules`), a
timer wakes the worker every minute and :func:`run_due_user_schedules` runs the published schedules of this
worker's cloud that fell due in the last few minutes, each in its own zone (DST as the laptop computes it:
:meth:`escher.schedule.cron.CronExpr.next_after`; a slot in an hour a fall-back repeats runs once), never
before it was made. Which wake runs a slot is
decided by a create-only marker per schedule and minute (``<events log prefix>schedule-runs/<id>/<slot>.json``
in the state storage): two wakes, late or overlapping, never run one slot twice; slots missed together run
once. The marker is taken before the run (a run that crashes is not repeated: at most once, as a cloud
scheduler without retries) and then records the outcome; under the events-log prefix the markers expire with
that log's lifecycle rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from escher.audit import AuditRecord
from escher.pipeline.errors import PermanentEventError

if TYPE_CHECKING:
    from escher.extend.settings_doc import SettingsDocument
    from escher.pipeline.core import Pipeline
    from escher.policy.templates import Template
    from escher.schedule.jobs import Schedule

__all__ = ["LOOKBACK", "due_slots", "find_schedule", "run_due_user_schedules", "run_user_schedule"]

# how far back a wake looks for slots: a wake that starts late, or one the host missed, still runs them (a wake
# per minute, so every slot is seen by up to five wakes; the marker lets one run it)
LOOKBACK = timedelta(minutes=5)
RUNS_FOLDER = "schedule-runs/"


def find_schedule(doc: SettingsDocument, schedule_id: str) -> Schedule | None:
    """The published schedule ``schedule_id`` (``schedules.json`` as the laptop has it), or None."""
    from escher.schedule.jobs import Schedule

    raw = doc.content.get("schedules", {})
    items = raw.get("schedules", []) if isinstance(raw, dict) else []
    for item in items:
        if isinstance(item, dict) and item.get("id") == schedule_id:
            return Schedule.model_validate(item)
    return None


def published_schedules(doc: SettingsDocument) -> list[Schedule]:
    """Every readable user schedule in the published settings (one that cannot be read is left out here; the
    laptop lists it as broken)."""
    from pydantic import ValidationError

    from escher.errors import EscherError
    from escher.schedule.jobs import Schedule

    raw = doc.content.get("schedules", {})
    items = raw.get("schedules", []) if isinstance(raw, dict) else []
    out = []
    for item in items:
        try:
            out.append(Schedule.model_validate(item))
        except (ValidationError, EscherError):
            continue
    return out


def due_slots(schedule: Schedule, now: datetime, lookback: timedelta = LOOKBACK) -> list[datetime]:
    """The firing times of ``schedule`` in ``(now - lookback, now]`` and after it was made, oldest first."""
    from escher.schedule.cron import parse

    cron = parse(schedule.cron)
    after = max(now - lookback, schedule.created_at)
    slots = []
    slot = cron.next_after(after, schedule.timezone)
    while slot <= now:
        slots.append(slot)
        slot = cron.next_after(slot, schedule.timezone)
    return slots


def _slot_key(prefix: str, schedule_id: str, slot: datetime) -> str:
    return f"{prefix}{RUNS_FOLDER}{schedule_id}/{slot.astimezone(UTC):%Y-%m-%dT%H%MZ}.json"


def run_due_user_schedules(
    worker: str, env: Mapping[str, str], now: datetime | None = None
) -> dict[str, Any]:
    """One wake of the every-minute timer: run each due published schedule of ``worker``'s cloud once."""
    from escher.pipeline.runtime import published_settings, state_objects

    now = (now or datetime.now(UTC)).astimezone(UTC)
    doc = published_settings(env)
    if doc is None:
        return {"job": "user_schedules", "ran": [], "skipped": "no settings are published to this worker"}
    objects = state_objects(env)
    prefix = env.get("ESCHER_EVENTS_LOG_PREFIX", "")
    ran: list[dict[str, Any]] = []
    already: list[str] = []
    for schedule in published_schedules(doc):
        if worker not in schedule.job.clouds:
            continue  # another cloud's extension (or the laptop) runs it
        slots = due_slots(schedule, now)
        claim = {"schedule_id": schedule.id, "worker": worker, "claimed_at": now.isoformat()}
        taken = []
        for slot in slots:
            key = _slot_key(prefix, schedule.id, slot)
            version = objects.put_if_absent(key, json.dumps({**claim, "slot": slot.isoformat()}).encode())
            if version is not None:
                taken.append((key, version, slot))
        if not taken:
            if slots:
                already.append(schedule.id)
            continue
        try:
            result = run_user_schedule(worker, {"schedule_id": schedule.id}, env)
        except Exception as exc:  # noqa: BLE001 - one schedule's failure must not cost the others their slots
            import logging

            from escher.errors import EscherError

            why = exc.message if isinstance(exc, EscherError) else f"{type(exc).__name__}: {exc}"
            logging.getLogger("escher.pipeline").warning("schedule %s failed: %s", schedule.id, why)
            result = {"job": "user_schedule", "schedule_id": schedule.id, "ok": False, "error": why[:2000]}
        result["slots"] = [slot.isoformat() for _, _, slot in taken]
        key, version, slot = taken[-1]
        body = {**claim, "slot": slot.isoformat(), "result": result}
        objects.replace(key, json.dumps(body, default=str).encode(), version)
        ran.append(result)
    return {"job": "user_schedules", "at": now.isoformat(), "ran": ran, "already_run": already}


def _template(doc: SettingsDocument, name: str) -> Template | None:
    from escher.policy.templates import Template

    raw = doc.content.get("templates", {})
    found = raw.get(name) if isinstance(raw, dict) else None
    return None if found is None else Template.model_validate(found)


def _refused(pipeline: Pipeline, schedule_id: str, why: str, hint: str) -> dict[str, Any]:
    pipeline.audit.append(
        AuditRecord(
            actor=f"worker:{pipeline.worker}",
            action="schedule.refused",
            target=schedule_id,
            reason=why,
            outcome="refused",
            details={"schedule_id": schedule_id, "hint": hint},
            correlation_id=schedule_id,
        )
    )
    return {"job": "user_schedule", "schedule_id": schedule_id, "ok": False, "refused": why, "hint": hint}


def run_user_schedule(worker: str, params: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    from escher.pipeline.runtime import build_pipeline, published_settings

    schedule_id = params.get("schedule_id")
    if not isinstance(schedule_id, str) or not schedule_id:
        raise PermanentEventError(
            "a user_schedule job names no schedule",
            hint='the cloud schedule must send {"job": "user_schedule", "schedule_id": ID}',
        )
    doc = published_settings(env)
    if doc is None:
        raise PermanentEventError(
            f"schedule {schedule_id} fired, but no settings are published to this worker",
            hint="run `escher extend sync-settings` on the laptop",
        )
    pipeline = build_pipeline(worker, env)
    schedule = find_schedule(doc, schedule_id)
    if schedule is None:
        return _refused(
            pipeline,
            schedule_id,
            f"schedule {schedule_id} is not in the published settings (version {doc.version})",
            f"run `escher extend sync-settings`, or `escher schedule remove {schedule_id}` to stop it firing",
        )
    job = schedule.job
    if job.kind != "operation":
        from escher.pipeline.daily import run_daily

        return {"job": "user_schedule", "schedule_id": schedule_id, **run_daily(worker, {}, env)}
    return _operation(pipeline, doc, schedule, env)


def _operation(
    pipeline: Pipeline, doc: SettingsDocument, schedule: Schedule, env: Mapping[str, str]
) -> dict[str, Any]:
    from escher.extend.settings_doc import settings_from_document
    from escher.ops import OPERATIONS, Engine
    from escher.policy.approvals import Approvals
    from escher.policy.gate import Gate
    from escher.policy.personas import Actor, Persona
    from escher.policy.settings import load_policy

    job = schedule.job
    assert job.operation is not None  # an operation job always names one (escher.schedule.jobs)
    op = OPERATIONS.get(job.operation)
    if op.cloud != pipeline.worker:
        return _refused(
            pipeline,
            schedule.id,
            f"{op.id} is not an operation of this {pipeline.worker} worker",
            "schedules of the other clouds run from their own extension (or on the laptop)",
        )
    enabled = env.get("ESCHER_OPERATIONS")  # what the worker's role was generated from (escher.infra)
    if enabled is not None and op.id not in {o.strip() for o in enabled.split(",")}:
        return _refused(
            pipeline,
            schedule.id,
            f"{op.id} is not enabled for this extension, so its role may not run it",
            f"enable {op.id} for the extension and run `escher extend {pipeline.worker}` again",
        )
    template = None
    if job.template:
        template = _template(doc, job.template)
        if template is None or template.operation != op.id:
            return _refused(
                pipeline,
                schedule.id,
                f"template {job.template!r} is gone or no longer runs {op.id}",
                "see `escher templates list`; re-add the schedule with a template that runs it",
            )
        actor = Actor("scheduler", Persona.executor)  # bounded by the template, as an executor would be
    else:
        actor = Actor("scheduler", Persona.automation)
    settings = settings_from_document(doc)
    gate = Gate(
        actor,
        pipeline.audit,
        approvals=Approvals(pipeline.approvals, pipeline.audit),
        remediation=pipeline.remediation,
        template=template,
        timezone=settings.general.timezone,
        policy=load_policy(settings.extensions),
    )
    engine = Engine(pipeline.cloud, pipeline.audit, gate, verify_interval=pipeline.verify_interval,
                    verify_timeout=pipeline.verify_timeout)  # fmt: skip
    run_params = template.params_for(job.params) if template else job.params
    targets = engine.resolve_targets(op, job.targets, tags=job.tags, regions=job.regions)
    result = engine.run(op.id, targets, run_params, actor=f"worker:{pipeline.worker}",
                        reason=f"schedule {schedule.id}: {job.describe()}")  # fmt: skip
    refused = result.decision is not None and not result.decision.allowed
    out: dict[str, Any] = {
        "job": "user_schedule",
        "schedule_id": schedule.id,
        "ok": result.ok,
        "operation": op.id,
        "counts": result.counts(),
    }
    if refused and result.decision is not None:
        out["refused"] = result.decision.reason
    return out
