"""Scheduled jobs a worker runs when the scheduler calls it (``{"job": "daily_scan"}``).

- ``daily_scan``: the daily job of this worker's cloud, in five parts, each stored in the state storage: the
  scan (``reports/scan/``, ``estate/latest.json``), yesterday's cost snapshot (``reports/cost/``), the morning
  report (``reports/report/``), the digest notification (``reports/digest/``: the report's headline and
  the INFO alerts queued for it, sent to every configured channel and to ``ESCHER_NOTIFY_TOPIC`` when the
  extension made one) and retention (``reports/retention/``: what is past ``[retention]``). A failing part is
  reported in ``reports/daily/<day>.json`` and in the answer, and the rest carries on;
- ``morning_digest``: the INFO alerts queued since yesterday, gathered for the morning report;
- ``user_schedule``: a schedule made with ``escher schedule add`` while extended (``{"job": "user_schedule",
  "schedule_id": ...}``), read from the published settings and run under its template or the policy gate
  (:mod:`escher.pipeline.user_schedules`).

What to scan and every rule come from the settings the laptop published (``escher.extend``), else the config.

An unknown job name is a permanent error (dead-lettered with the list of known jobs), never a silent no-op.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from escher.pipeline.errors import PermanentEventError
from escher.pipeline.objects import PipelineObjects

__all__ = ["JOBS", "ObjectResultStore", "run_job"]


class ObjectResultStore:
    """``escher.scans``' ``ResultStore`` over the state storage (``reports/<kind>/<key>.json``)."""

    def __init__(self, objects: PipelineObjects) -> None:
        self.objects = objects

    def put(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, default=str).encode()
        if kind == "estate":  # the latest inventory is what enrichment reads (escher.pipeline.adapters)
            self.objects.put("estate/latest.json", data)
        self.objects.put(f"reports/{kind}/{key}.json", data)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        item = self.objects.get(f"reports/{kind}/{key}.json")
        return None if item is None else dict(json.loads(item.data))

    def keys(self, kind: str) -> list[str]:
        prefix = f"reports/{kind}/"
        return [k[len(prefix) : -len(".json")] for k in self.objects.list(prefix)]

    def latest(self, kind: str) -> dict[str, Any] | None:
        keys = self.keys(kind)
        return self.get(kind, keys[-1]) if keys else None


def _objects(env: Mapping[str, str]) -> PipelineObjects:
    from escher.config import load_settings, resolve_paths
    from escher.pipeline.runtime import state_objects

    return state_objects(env, load_settings(resolve_paths(dict(env)), dict(env)).extensions)


def daily_scan(worker: str, params: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    from escher.pipeline.daily import run_daily

    return run_daily(worker, params, env)


def morning_digest(worker: str, params: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    from escher.pipeline.adapters import MorningQueue

    objects = _objects(env)
    day = str(params.get("day") or datetime.now(UTC).strftime("%Y-%m-%d"))
    items = MorningQueue(objects).pending(day)
    objects.put(f"reports/morning-digest/{day}.json", json.dumps({"day": day, "alerts": items}).encode())
    return {"job": "morning_digest", "day": day, "alerts": len(items)}


def user_schedule(worker: str, params: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    from escher.pipeline.user_schedules import run_user_schedule

    return run_user_schedule(worker, params, env)


JOBS: dict[str, Callable[[str, Mapping[str, Any], Mapping[str, str]], dict[str, Any]]] = {
    "daily_scan": daily_scan,
    "morning_digest": morning_digest,
    "user_schedule": user_schedule,
}


def run_job(worker: str, request: Mapping[str, Any], env: Mapping[str, str] | None = None) -> dict[str, Any]:
    name = request.get("job")
    if not isinstance(name, str) or name not in JOBS:
        raise PermanentEventError(
            f"unknown scheduled job {name!r}",
            hint=f"the scheduler must send {{'job': one of {', '.join(sorted(JOBS))}}}",
        )
    params = request.get("params") or {}
    if not isinstance(params, dict):
        raise PermanentEventError(
            "the job's 'params' must be an object", hint='send {"job": ..., "params": {}}'
        )
    if "schedule_id" in request:  # a user schedule's cloud schedule names it at the top level
        params = {**params, "schedule_id": request["schedule_id"]}
    return JOBS[name](worker, params, os.environ if env is None else env)
