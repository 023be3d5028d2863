"""An organization's daily scan fanned out through the cloud's own queue (issue #19 item 4), on every cloud.

When the published settings ask for an organization scan and the Extension made a scan queue
(``ESCHER_SCAN_QUEUE_URL``), the 02:00 job does not scan: :func:`dispatch` lists the accounts
(``escher.scans.runner.all_accounts``), keeps the run's manifest in the state storage and sends one message
per account through the cloud's queue (``escher.clouds.<cloud>.fanout.send``):

=====  ==============================================================  =====================================
cloud  what asks for the organization                                  the queue -> the worker
=====  ==============================================================  =====================================
aws    ``[aws] accounts``, ``organization_units`` or ``account_tags``  SQS (``sqs://``) -> Lambda, batch 1
azure  ``[azure] subscriptions`` or ``management_group``               Storage queue (``azqueue://``) -> the
                                                                       Function App's queue trigger, batch 1
gcp    ``[gcp] projects`` or ``parent``                                Pub/Sub topic (``pubsub://``) -> push
                                                                       subscription -> the scan function
=====  ==============================================================  =====================================

The worker takes one message at a time (the platform's concurrency bound), enters that account (AWS: the
organization role; Azure and GCP: the subscription or project must answer the worker's identity), scans it and
writes the account's part under ``scans/org/<run>/accounts/<account>.json`` (:func:`scan_account`). When
every part is in, or the run's deadline has passed, :func:`join` writes the joined report
(``reports/org/<run>.json`` and ``.md``): one section per account, an account that could not be scanned
named with why. A message that cannot be read fails its delivery every time and the platform moves it aside
after a bounded number of deliveries (SQS's dead-letter queue, the Functions host's ``-poison`` queue,
Pub/Sub's dead-letter topic).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.pipeline.objects import PipelineObjects

__all__ = ["SCAN_QUEUE_ENV", "dispatch", "enabled", "is_scan_message", "join", "queue_cloud", "scan_account"]

log = logging.getLogger("escher.pipeline.fanout")
# set by the Extension's Worker part, the scheme naming the cloud (each cloud's fanout module's SCHEME):
# sqs://<queue name>, azqueue://<queue>?account_url=<queue endpoint>,
# pubsub://projects/<project>/topics/<topic>
SCAN_QUEUE_ENV = "ESCHER_SCAN_QUEUE_URL"
PREFIX = "scans/org/"
REPORTS = "reports/org/"
KIND = "escher.scan_account"
DEADLINE = timedelta(hours=4)  # the morning report does not wait longer for an account's part


def _sender(cloud: str) -> Any:
    """``escher.clouds.<cloud>.fanout`` (no SDK at import): ``SCHEME``, ``SEND_PERMISSION``,
    ``organization(settings)``, ``send(url, bodies) -> failed indexes`` and ``enter(account, ctx)``."""
    import importlib

    return importlib.import_module(f"escher.clouds.{cloud}.fanout")


def queue_cloud(env: Mapping[str, str]) -> str | None:
    """The cloud whose queue ``ESCHER_SCAN_QUEUE_URL`` names (by its scheme), or None without one."""
    from escher.clouds.provider import CLOUDS

    scheme, _, _ = (env.get(SCAN_QUEUE_ENV) or "").partition("://")
    return next((c for c in CLOUDS if scheme and scheme == _sender(c).SCHEME), None)


def enabled(settings: Settings, env: Mapping[str, str]) -> bool:
    """Fan out only when the Extension has a scan queue and the settings ask for the organization."""
    cloud = queue_cloud(env)
    return cloud is not None and bool(_sender(cloud).organization(settings))


def dispatch(
    settings: Settings, env: Mapping[str, str], objects: PipelineObjects, *, now: datetime
) -> dict[str, Any]:
    """List the accounts, keep the run's manifest, send one message per account; join overdue runs."""
    from escher.scans.runner import all_accounts

    cloud = queue_cloud(env)
    if cloud is None:
        raise EscherError(
            f"{SCAN_QUEUE_ENV} names no queue Escher knows: {env.get(SCAN_QUEUE_ENV, '')[:80]!r}",
            hint="redeploy with 'escher extend' (it sets the scan queue)",
        )
    from escher.pipeline.runtime import build_pipeline

    overdue = [r for r in _unjoined(objects) if join(objects, r, now=now) is not None]
    ctx = build_pipeline(cloud, env).cloud  # the platform's clients (a replay transport under test)
    accounts = list(dict.fromkeys(all_accounts(cloud, settings, ctx)))
    if not accounts:
        from escher.clouds.provider import provider

        raise EscherError(
            f"no {provider(cloud).title} {provider(cloud).account_word} to scan",
            hint=f"check the organization's settings in [{cloud}] ('escher accounts list --cloud {cloud}')",
        )
    run = f"{now:%Y-%m-%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    deadline = now + DEADLINE
    manifest = {"run": run, "cloud": cloud, "accounts": accounts,
                "started_at": now.isoformat(timespec="seconds"),
                "deadline": deadline.isoformat(timespec="seconds")}  # fmt: skip
    objects.put(f"{PREFIX}{run}/manifest.json", json.dumps(manifest).encode())
    sender = _sender(cloud)
    bodies = [json.dumps({"kind": KIND, "run": run, "account": account}) for account in accounts]
    failed = [accounts[i] for i in sender.send(env[SCAN_QUEUE_ENV], bodies)]
    if failed:
        raise EscherError(
            f"{len(failed)} of {len(accounts)} account(s) could not be queued: {', '.join(failed[:10])}",
            hint=f"the worker needs {sender.SEND_PERMISSION} on the scan queue; the 02:00 job is retried",
        )
    return {"org_run": run, "cloud": cloud, "accounts": len(accounts), "queued": len(accounts),
            "deadline": manifest["deadline"], "joined_overdue": overdue}  # fmt: skip


def _unjoined(objects: PipelineObjects) -> list[str]:
    runs = {
        k.removeprefix(PREFIX).split("/", 1)[0] for k in objects.list(PREFIX) if k.endswith("manifest.json")
    }
    return sorted(r for r in runs if objects.get(f"{REPORTS}{r}.json") is None)


def is_scan_message(body: Any) -> TypeGuard[str]:
    """A queue message of the fan-out (anything else on a queue goes to the event pipeline)."""
    return isinstance(body, str) and f'"kind": "{KIND}"' in body[:200]


def _message(cloud: str, body: str) -> tuple[str, str]:
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    from escher.clouds.provider import provider

    account_pattern = f"^(?:{provider(cloud).account_pattern})$"  # an AWS account, a subscription, a project

    class ScanMessage(BaseModel):
        model_config = ConfigDict(extra="forbid")
        kind: Literal["escher.scan_account"]
        run: str = Field(pattern=r"^[\w:.-]{1,80}$")
        account: str = Field(pattern=account_pattern)

    try:
        msg = ScanMessage.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        from escher.pipeline.errors import PermanentEventError

        raise PermanentEventError(
            f"not a scan message: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}",
            hint="the scan queue takes only the 02:00 job's messages; this one goes to its dead-letter place",
        ) from None
    return msg.run, msg.account


def scan_account(
    worker: str, body: str, env: Mapping[str, str], *, now: datetime | None = None
) -> dict[str, Any]:
    """Scan the one account a message names, on the worker's cloud, and write its part. An account that
    cannot be entered or read is a part too (it is named in the report); a message that cannot be read, or a
    failure that may pass, raises: the delivery fails and the platform redelivers it, then moves it aside."""
    from escher.pipeline.runtime import build_pipeline, effective_settings, published_settings, state_objects
    from escher.scans.runner import ScanOptions, run_scan

    cloud = worker
    run, account = _message(cloud, body)
    settings, _ = effective_settings(worker, env, published_settings(env))
    objects = state_objects(env, settings.extensions)
    if objects.get(f"{PREFIX}{run}/manifest.json") is None:
        from escher.pipeline.errors import PermanentEventError

        raise PermanentEventError(
            f"scan run {run} has no manifest", hint="only the 02:00 job starts an organization scan"
        )
    # a second delivery of a message already handled (every queue here delivers at least once): no new scan
    done = objects.get(f"{PREFIX}{run}/accounts/{account}.json")
    if done is not None:
        return {"outcome": "org_part", "run": run, "account": account, "ok": json.loads(done.data)["ok"],
                "joined": objects.get(f"{REPORTS}{run}.json") is not None, "duplicate": True}  # fmt: skip
    part: dict[str, Any] = {"account": account, "run": run}
    ctx = build_pipeline(worker, env).cloud  # the platform's clients (a replay transport under test)
    try:
        _sender(cloud).enter(account, ctx)  # Azure / GCP: the subscription or project answers the identity
        result = run_scan(settings, ScanOptions(clouds=[cloud], accounts={cloud: [account]}), ctx=ctx)
    except EscherError as exc:  # the account could not be entered (AssumeRole refused) or read at all
        part |= {"ok": False, "error": exc.message, "hint": exc.hint or "", "code": getattr(exc, "code", "")}
    else:
        part |= {
            "ok": True,
            "scan_id": result.scan_id,
            "resources": len(result.inventory.records),
            "not_read": [f"{e.region}/{e.service}: {e.message}" for e in result.inventory.errors][:50],
            "findings": [f.to_dict() for f in result.findings],
        }
    at = now or datetime.now(UTC)
    part["finished_at"] = at.isoformat(timespec="seconds")
    objects.put(f"{PREFIX}{run}/accounts/{account}.json", json.dumps(part, default=str).encode())
    joined = join(objects, run, now=at)
    return {
        "outcome": "org_part",
        "run": run,
        "account": account,
        "ok": part["ok"],
        "joined": joined is not None,
    }


def join(objects: PipelineObjects, run: str, *, now: datetime) -> dict[str, Any] | None:
    """The joined report of ``run`` once every account's part is in or its deadline passed; else None."""
    got = objects.get(f"{PREFIX}{run}/manifest.json")
    if got is None:
        return None
    manifest = json.loads(got.data)
    parts: dict[str, dict[str, Any]] = {}
    for key in objects.list(f"{PREFIX}{run}/accounts/"):
        found = objects.get(key)
        if found is not None:
            part = json.loads(found.data)
            parts[part["account"]] = part
    late = now >= datetime.fromisoformat(manifest["deadline"])
    if not late and not set(manifest["accounts"]) <= set(parts):
        return None
    sections = [_section(account, parts.get(account)) for account in manifest["accounts"]]
    report = {
        "run": run,
        "cloud": manifest.get("cloud", ""),  # (runs queued before the manifest said its cloud: "")
        "started_at": manifest["started_at"],
        "joined_at": now.isoformat(timespec="seconds"),
        "complete": set(manifest["accounts"]) <= set(parts),
        "accounts": sections,
        "findings": sum(s["failed"] for s in sections),
        "not_scanned": [s["account"] for s in sections if s["status"] != "scanned"],
    }
    objects.put(f"{REPORTS}{run}.json", json.dumps(report).encode())
    objects.put(f"{REPORTS}{run}.md", render(report).encode())
    return report


def _section(account: str, part: dict[str, Any] | None) -> dict[str, Any]:
    if part is None:
        return {"account": account, "status": "missing", "failed": 0, "by_severity": {},
                "error": "no result by the run's deadline", "hint": "see the scan queue's dead letters"}  # fmt: skip
    if not part["ok"]:
        return {"account": account, "status": "not scanned", "failed": 0, "by_severity": {},
                "error": part["error"], "hint": part.get("hint", "")}  # fmt: skip
    failing = [f for f in part["findings"] if f["status"] == "FAIL"]
    by_severity: dict[str, int] = {}
    for f in failing:
        by_severity[f["severity"]] = by_severity.get(f["severity"], 0) + 1
    top = [{"check_id": f["check_id"], "resource_id": f["resource_id"], "severity": f["severity"],
            "title": f["title"]} for f in failing[:50]]  # fmt: skip
    return {"account": account, "status": "scanned", "resources": part["resources"], "failed": len(failing),
            "by_severity": by_severity, "findings": top, "not_read": part["not_read"]}  # fmt: skip


def render(report: Mapping[str, Any]) -> str:
    lines = [f"# Organization scan {report['run']}", ""]
    scanned = len(report["accounts"]) - len(report["not_scanned"])
    lines.append(
        f"{scanned} of {len(report['accounts'])} account(s) scanned, {report['findings']} failing finding(s)."
    )
    for s in report["accounts"]:
        lines += ["", f"## Account {s['account']} ({s['status']})"]
        if s["status"] != "scanned":
            lines.append(f"{s['error']}. {s['hint']}".strip())
            continue
        counts = (
            ", ".join(f"{n} {sev}" for sev, n in sorted(s["by_severity"].items())) or "no failing finding"
        )
        lines.append(f"{s['resources']} resource(s) read: {counts}.")
        lines += [f"- {f['severity']} {f['check_id']}: {f['resource_id']}" for f in s["findings"]]
    return "\n".join(lines) + "\n"
