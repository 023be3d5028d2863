"""An organization's daily scan fanned out through the cloud's own queue (issue #19 item 4, AWS).

When the published settings ask for an organization scan (``[aws] accounts``, ``organization_units`` or
``account_tags``; the organization's root id, ``r-...``, in ``organization_units`` means every account) and
the Extension made a scan queue (``ESCHER_SCAN_QUEUE_URL``), the 02:00 job does not scan: :func:`dispatch` lists the accounts, keeps the run's
manifest in the state storage and sends one message per account (SendMessageBatch, 10 a call). The worker
consumes the queue one message at a time (batch size 1, the event source mapping's maximum concurrency), enters
that account through ``[aws] organization_role``, scans it and writes the account's part under
``scans/org/<run>/accounts/<account>.json`` (:func:`scan_account`). When every part is in, or the run's deadline
has passed, :func:`join` writes the joined report (``reports/org/<run>.json`` and ``.md``): one section per
account, an account that could not be scanned named with why. A message that cannot be read fails its delivery
every time and SQS moves it to the scan queue's dead-letter queue after its maximum receives.
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

__all__ = ["SCAN_QUEUE_ENV", "dispatch", "enabled", "is_scan_message", "join", "scan_account"]

log = logging.getLogger("escher.pipeline.fanout")
SCAN_QUEUE_ENV = "ESCHER_SCAN_QUEUE_URL"  # sqs://<queue name>, set by the Extension's Worker part
PREFIX = "scans/org/"
REPORTS = "reports/org/"
KIND = "escher.scan_account"
DEADLINE = timedelta(hours=4)  # the morning report does not wait longer for an account's part
BATCH = 10  # SendMessageBatch's limit


def enabled(settings: Settings, env: Mapping[str, str]) -> bool:
    """Fan out only when the Extension has a scan queue and the settings ask for the organization."""
    if not env.get(SCAN_QUEUE_ENV):
        return False
    aws = settings.aws
    return bool(aws.accounts or aws.organization_units or aws.account_tags)


def _queue_url(env: Mapping[str, str]) -> str:
    from escher.clouds import aws

    url = env[SCAN_QUEUE_ENV]
    if url.startswith("sqs://"):
        return str(aws.client("sqs").get_queue_url(QueueName=url.removeprefix("sqs://"))["QueueUrl"])
    return url


def dispatch(
    settings: Settings, env: Mapping[str, str], objects: PipelineObjects, *, now: datetime
) -> dict[str, Any]:
    """List the accounts, keep the run's manifest, send one message per account; join overdue runs."""
    from escher.clouds import aws
    from escher.scans.runner import all_accounts

    overdue = [r for r in _unjoined(objects) if join(objects, r, now=now) is not None]
    accounts = list(dict.fromkeys(all_accounts("aws", settings)))
    if not accounts:
        raise EscherError("no AWS account to scan", hint="check [aws] accounts or the organization's filters")
    run = f"{now:%Y-%m-%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    deadline = now + DEADLINE
    manifest = {"run": run, "accounts": accounts, "started_at": now.isoformat(timespec="seconds"),
                "deadline": deadline.isoformat(timespec="seconds")}  # fmt: skip
    objects.put(f"{PREFIX}{run}/manifest.json", json.dumps(manifest).encode())
    sqs, url = aws.client("sqs"), _queue_url(env)
    failed: list[str] = []
    for start in range(0, len(accounts), BATCH):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"kind": KIND, "run": run, "account": account})}
            for i, account in enumerate(accounts[start : start + BATCH], start)
        ]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        failed += [accounts[int(f["Id"])] for f in answer.get("Failed", [])]
    if failed:
        raise EscherError(
            f"{len(failed)} of {len(accounts)} account(s) could not be queued: {', '.join(failed[:10])}",
            hint="the worker needs sqs:SendMessage on the scan queue; the 02:00 job is retried",
        )
    return {"org_run": run, "accounts": len(accounts), "queued": len(accounts),
            "deadline": manifest["deadline"], "joined_overdue": overdue}  # fmt: skip


def _unjoined(objects: PipelineObjects) -> list[str]:
    runs = {
        k.removeprefix(PREFIX).split("/", 1)[0] for k in objects.list(PREFIX) if k.endswith("manifest.json")
    }
    return sorted(r for r in runs if objects.get(f"{REPORTS}{r}.json") is None)


def is_scan_message(body: Any) -> TypeGuard[str]:
    """A queue message of the fan-out (anything else on a queue goes to the event pipeline)."""
    return isinstance(body, str) and f'"kind": "{KIND}"' in body[:200]


def _message(body: str) -> tuple[str, str]:
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class ScanMessage(BaseModel):
        model_config = ConfigDict(extra="forbid")
        kind: Literal["escher.scan_account"]
        run: str = Field(pattern=r"^[\w:.-]{1,80}$")
        account: str = Field(pattern=r"^\d{12}$")

    try:
        msg = ScanMessage.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        from escher.pipeline.errors import PermanentEventError

        raise PermanentEventError(
            f"not a scan message: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}",
            hint="the scan queue takes only the 02:00 job's messages; this one goes to its dead-letter queue",
        ) from None
    return msg.run, msg.account


def scan_account(
    worker: str, body: str, env: Mapping[str, str], *, now: datetime | None = None
) -> dict[str, Any]:
    """Scan the one account a message names and write its part. An account that cannot be entered or read
    is a part too (it is named in the report); a message that cannot be read, or a failure that may pass,
    raises: the delivery fails and SQS redelivers it, then dead-letters it."""
    from escher.pipeline.runtime import effective_settings, published_settings, state_objects
    from escher.scans.runner import ScanOptions, run_scan

    run, account = _message(body)
    settings, _ = effective_settings(worker, env, published_settings(env))
    objects = state_objects(env, settings.extensions)
    if objects.get(f"{PREFIX}{run}/manifest.json") is None:
        from escher.pipeline.errors import PermanentEventError

        raise PermanentEventError(
            f"scan run {run} has no manifest", hint="only the 02:00 job starts an organization scan"
        )
    part: dict[str, Any] = {"account": account, "run": run}
    try:
        result = run_scan(settings, ScanOptions(clouds=["aws"], accounts={"aws": [account]}))
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
                "error": "no result by the run's deadline", "hint": "see the scan queue's dead-letter queue"}  # fmt: skip
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
