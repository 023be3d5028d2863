"""The daily job a deployed worker runs for its cloud: scan, cost snapshot, morning report, digest, retention.

Each part writes to the state storage and is reported on its own: a part that fails (billing not reachable, no
scan to report on, a channel refusing the digest) is recorded with its message and hint in
``reports/daily/<day>.json`` and the next parts still run. A part that depends on a failed one says so. Cloud
and Escher errors are expected here; anything else is a bug: logged with its traceback, recorded, and the
other parts still run (the scan of a whole estate is not thrown away because the digest had a bug).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.pipeline.jobs import ObjectResultStore
    from escher.pipeline.objects import PipelineObjects

__all__ = ["DailyRun", "run_daily"]

log = logging.getLogger("escher.pipeline.daily")
PARTS = ("scan", "cost", "report", "digest", "retention")
# run after the scan only when [remediation] stop_idle_instances is on (off: no part, the findings stay findings)
IDLE_PART = "idle"
DIGEST_BODY_LIMIT = 20_000  # characters: e-mail and chat services cut or refuse longer bodies


@dataclass
class DailyRun:
    worker: str
    day: str
    started_at: str
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    def run(self, name: str, part: Callable[[], dict[str, Any]]) -> None:
        try:
            self.parts[name] = {"ok": True, **part()}
        except EscherError as exc:
            self.errors[name] = exc
            self.parts[name] = {"ok": False, "error": exc.message, "hint": exc.hint or ""}
        except Exception as exc:
            from escher.clouds.errors import translate

            error = translate(exc)
            self.errors[name] = error or exc
            if error is not None:
                self.parts[name] = {"ok": False, "error": error.message, "hint": error.hint or ""}
                return
            log.exception("daily job part %s failed", name)
            self.parts[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:1000], "bug": True}

    @property
    def failed(self) -> list[str]:
        return [name for name, part in self.parts.items() if not part["ok"]]

    def to_dict(self) -> dict[str, Any]:
        return {"worker": self.worker, "day": self.day, "started_at": self.started_at, "parts": self.parts,
                "failed": self.failed}  # fmt: skip


def run_daily(
    worker: str,
    params: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    from escher.pipeline.jobs import ObjectResultStore
    from escher.pipeline.runtime import effective_settings, published_settings, state_objects

    published = published_settings(env)
    settings, notify_env = effective_settings(worker, env, published)
    objects = state_objects(env, settings.extensions)
    store = ObjectResultStore(objects)
    started = now()
    day = started.strftime("%Y-%m-%d")
    daily = DailyRun(worker, day, started.isoformat(timespec="seconds"))
    clouds = [str(c) for c in params.get("clouds") or [worker]]
    scanned: dict[str, Any] = {}
    scan_results: list[Any] = []

    fans_out = _fans_out(settings, env)  # the worker's own scan queue (escher.pipeline.fanout.queue_cloud)

    def scan() -> dict[str, Any]:
        if fans_out:  # an organization: one queue message per account (escher.pipeline.fanout)
            from escher.pipeline.fanout import dispatch

            scanned.update(dispatch(settings, env, objects, now=started))
            return dict(scanned)
        from escher.extend.cloud_credentials import extra_clouds
        from escher.scans.runner import ScanOptions, run_scan

        # one extension manages all clouds: the others' credentials come from this cloud's secret store
        extra = extra_clouds(worker, env, settings)
        scan_clouds = clouds if params.get("clouds") else [*clouds, *extra.clouds]
        result = run_scan(settings, ScanOptions(clouds=scan_clouds), store=store, ctx=extra.ctx)
        scan_results.append(result)
        scanned.update(scan_id=result.scan_id, findings=len(result.findings))
        errors = [f"{e.cloud}/{e.region}/{e.service}: {e.message}" for e in result.inventory.errors]
        return {**scanned, "resources": len(result.inventory.records), "not_read": errors[:50],
                "clouds": scan_clouds, **extra.to_dict(),
                "settings_version": published.version if published else None}  # fmt: skip

    def idle() -> dict[str, Any]:
        if fans_out:
            return {
                "stops": [],
                "skipped": "organization scan: idle instances are not stopped across accounts",
            }
        return _stop_idle(worker, env, settings, scan_results[0] if scan_results else None, day)

    def cost() -> dict[str, Any]:
        return _cost(clouds, settings, store, (started - timedelta(days=1)).date())

    def report() -> dict[str, Any]:
        from escher.report.service import build_and_store

        if fans_out:  # joined from the accounts' parts when they are in (reports/org/<run>)
            return {
                "org_run": scanned["org_run"],
                "joined": "when every account's part is in, or at the deadline",
            }
        rep = build_and_store(store, settings.extensions)
        scanned["report"] = rep
        return {"report_date": rep.report_date, "key": f"{rep.report_date}_{rep.scan_id}"}

    def digest() -> dict[str, Any]:
        note = None
        if fans_out and "org_run" in scanned:
            note = (f"Organization scan {scanned['org_run']}: {scanned['queued']} account(s) queued, one scan each; "
                    f"the joined report will be reports/org/{scanned['org_run']}.md in the state storage.")  # fmt: skip
        return _digest(worker, settings, notify_env, objects, day, scanned.get("report"), env, note=note)

    def retention() -> dict[str, Any]:
        return _retention(settings, store, objects, started)

    steps = dict(zip(PARTS, (scan, cost, report, digest, retention), strict=True))
    if _stops_idle(settings):
        steps = {"scan": scan, IDLE_PART: idle, **steps}
    for name, part in steps.items():
        daily.run(name, part)
    objects.put(f"reports/daily/{day}.json", json.dumps(daily.to_dict(), default=str).encode())
    if "scan" in daily.errors:
        # the scan is the job: the platform must see it fail, and why (it retries; the other parts are
        # idempotent per day: the cost day is not pulled twice, the digest is not sent twice)
        raise daily.errors["scan"]
    for name in daily.failed:
        log.warning("daily job part %s failed: %s", name, daily.parts[name].get("error"))
    return {"job": "daily_scan", **scanned_summary(scanned), **daily.to_dict()}


def _fans_out(settings: Settings, env: Mapping[str, str]) -> bool:
    from escher.pipeline.fanout import enabled

    return enabled(settings, env)


def scanned_summary(scanned: Mapping[str, Any]) -> dict[str, Any]:
    return {k: scanned[k] for k in ("scan_id", "findings") if k in scanned}


def _stop_idle(
    worker: str, env: Mapping[str, str], settings: Settings, result: Any, day: str
) -> dict[str, Any]:
    """[remediation] stop_idle_instances: the scan's idle VMs go through the event pipeline (escher.pipeline.idle)."""
    from escher.pipeline.idle import stop_idle
    from escher.pipeline.runtime import build_pipeline
    from escher.policy.settings import load_policy

    if result is None:
        raise EscherError("idle instances were not checked: the scan failed", hint="see the scan part")
    enabled = env.get("ESCHER_OPERATIONS")
    stops = stop_idle(
        result,
        build_pipeline(worker, env),
        load_policy(settings.extensions),
        day=day,
        enabled_operations=[o.strip() for o in enabled.split(",")] if enabled is not None else None,
    )
    return {"stops": [s.to_dict() for s in stops]}


def _stops_idle(settings: Settings) -> bool:
    from escher.policy.remediation import load_remediation

    try:
        return load_remediation(settings.extensions).stop_idle_instances
    except EscherError:
        return True  # a broken [remediation] section: the idle part runs and records the error


def _cost(clouds: list[str], settings: Settings, store: ObjectResultStore, day: date) -> dict[str, Any]:
    from escher.scans.runner import cost_source, sync_costs

    failures: list[str] = []
    sources = []
    for cloud in clouds:
        if store.get("cost", f"{cloud}-{day.isoformat()}") is None:  # built only when the day is missing
            source = cost_source(cloud, settings)
            if source is not None:
                sources.append(source)
    snaps = sync_costs(clouds, day, store=store, sources=sources, failures=failures)
    if failures and not snaps:
        raise EscherError(
            "no cost snapshot: " + "; ".join(failures),
            hint="grant the worker read access to the billing data (see 'escher extend CLOUD --check')",
        )
    return {"day": day.isoformat(), "snapshots": [f"{s.cloud}-{s.day}" for s in snaps], "not_read": failures}


def _digest(
    worker: str,
    settings: Settings,
    notify_env: Mapping[str, str],
    objects: PipelineObjects,
    day: str,
    report: Any,
    env: Mapping[str, str],
    *,
    note: str | None = None,
) -> dict[str, Any]:
    from escher.notify.config import NotifySettings, load_notify
    from escher.notify.send import AppriseNotifier, Message
    from escher.pipeline.adapters import MorningQueue

    key = f"reports/digest/{day}.json"
    sent_before = objects.get(key)
    if sent_before is not None and all(d.get("ok") for d in json.loads(sent_before.data)["deliveries"]):
        return {"alerts": len(json.loads(sent_before.data)["alerts"]), "already_sent": True}
    yesterday = (datetime.fromisoformat(day) - timedelta(days=1)).strftime("%Y-%m-%d")
    queued = MorningQueue(objects).pending(yesterday) + MorningQueue(objects).pending(day)
    lines = []
    if report is not None:
        from escher.report.render import render

        lines.append(render(report, "markdown").decode("utf-8", "replace"))
    elif note is not None:  # an organization scan: the report is joined when the accounts' parts are in
        lines.append(note)
    else:
        lines.append("No morning report today: the scan or the report failed (see reports/daily/).")
    if queued:
        lines.append(f"\n{len(queued)} informational alert(s) queued for this report:")
        lines.extend(f"- {item.get('title', '')}" for item in queued[:100])
    body = "\n".join(lines)[:DIGEST_BODY_LIMIT]
    title = f"Escher morning report ({worker}) - {day}"
    user = load_notify(settings.extensions)
    # the digest goes to every channel the user configured (a morning e-mail, a chat post), not by severity
    channels = [c for c in user.channels if c in user.urls(notify_env)]
    notifier = AppriseNotifier(
        NotifySettings(channels=user.channels, routes={"INFO": channels}), env=notify_env
    )
    deliveries = notifier.notify(Message(alert_id=f"digest-{worker}-{day}", severity="INFO", title=title,
                                         body=body))  # fmt: skip
    sent = [{"channel": d.channel, "ok": d.ok, "target": d.target, "detail": d.detail} for d in deliveries]
    topic = env.get("ESCHER_NOTIFY_TOPIC")
    if topic and worker == "aws":
        sent.append(_publish_sns(topic, title, body))
    record = {"day": day, "title": title, "alerts": queued, "deliveries": sent, "body": body}
    objects.put(key, json.dumps(record, default=str).encode())
    failed = [str(s["channel"]) for s in sent if not s["ok"]]
    if failed:
        raise EscherError(
            f"the digest was stored but not delivered to {', '.join(failed)}",
            hint="check those channels' URLs ('escher extend sync-settings' publishes them again)",
        )
    return {"alerts": len(queued), "deliveries": sent}


def _publish_sns(topic: str, title: str, body: str) -> dict[str, Any]:
    """The extension's e-mail topic (``[extend] notify_email``): SNS subjects are at most 100 ASCII characters."""
    from escher.clouds import aws

    subject = title.encode("ascii", "replace").decode()[:100]
    aws.client("sns").publish(TopicArn=topic, Subject=subject, Message=body)
    return {"channel": "sns", "ok": True, "target": topic, "detail": ""}


def _retention(
    settings: Settings, store: ObjectResultStore, objects: PipelineObjects, now: datetime
) -> dict[str, Any]:
    """What is past ``[retention]`` in the state storage: cost snapshots after ``cost_days``, morning queues
    after 30 days. The worker holds no delete right (its role may not remove state); the list is stored for
    the laptop's sync and the storage's lifecycle rules, which do the removal."""
    cost_cutoff = (now - timedelta(days=settings.retention.cost_days)).date().isoformat()
    queue_cutoff = (now - timedelta(days=30)).date().isoformat()
    expired = [f"reports/cost/{k}.json" for k in store.keys("cost") if _day_of(k) < cost_cutoff]
    expired += [k for k in objects.list("morning-report/") if k.split("/")[1] < queue_cutoff]
    record = {"at": now.isoformat(timespec="seconds"), "cost_days": settings.retention.cost_days,
              "expired": expired}  # fmt: skip
    objects.put(f"reports/retention/{now:%Y-%m-%d}.json", json.dumps(record).encode())
    return {"expired": len(expired), "cost_cutoff": cost_cutoff}


def _day_of(cost_key: str) -> str:
    """``aws-2026-12-06`` -> ``2026-12-06``."""
    return cost_key[-10:]
