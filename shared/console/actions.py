"""What the console's buttons do, as functions over the core: the same calls as the CLI commands make.

- a finding's Fix: :func:`plan_fix` and :func:`confirm`, the core's :func:`escher.ops.fix.plan_fix` and
  :func:`escher.ops.fix.run_plan` that ``escher fix`` calls (the gate decides; a step that needs approval
  becomes an approval request; otherwise the engine executes and verifies);
- approvals: :func:`decide` and :func:`plan_approved` (``escher approvals approve|reject|run``);
- alerts: :func:`acknowledge` (``escher alerts ack``), :func:`snooze` (remind me tomorrow), :func:`plan_stop`
  (stop all / stop dev only: the catalogue's stop operation through the same plan and gate);
- settings: :func:`set_remediation` (``escher remediation enable|disable``), :func:`save_report_template` and
  :func:`save_routes` (the ``[report]`` and ``[notify.routes]`` sections), each an audit record.

Nothing here loosens the gate: a confirm runs only what ``Gate.decide`` allows; the console's person is the
CLI's person (``current_actor``), and a self-approval is the same recorded ``--approve "reason"``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from escher.clouds.provider import PROVIDERS
from escher.errors import EscherError
from escher.ops.fix import Outcome

if TYPE_CHECKING:
    from escher.alerts.model import Alert
    from escher.ops.engine import Plan
    from escher.policy.runtime import Runtime

__all__ = [
    "Outcome",
    "acknowledge",
    "confirm",
    "decide",
    "plan_approved",
    "plan_fix",
    "plan_stop",
    "save_report_template",
    "save_routes",
    "set_remediation",
    "snooze",
    "snoozed",
]

# the catalogue's "stop this machine" per cloud, as each provider names it: what the alert banners' Stop plans
STOP_OPERATION = {p.name: p.stop_machine for p in PROVIDERS.values() if p.stop_machine}
_DEV = ("dev", "development", "test", "sandbox")


class ConsoleError(EscherError):
    exit_code = 2


class NotAllowedError(EscherError):
    """The person's role does not allow this (an executor on a manager's page or button)."""

    exit_code = 4


# -- plans --------------------------------------------------------------------------------------------------
def plan_fix(rt: Runtime, finding_ids: list[str]) -> list[Plan]:
    """``escher fix ID...``: one plan per (operation, parameters) of the chosen findings of the latest scan."""
    from escher.ops import fix

    if not finding_ids:
        raise ConsoleError("no finding was chosen", hint="press Fix next to a finding of the report")
    return fix.plan_fix(rt, finding_ids)


def plan_stop(rt: Runtime, alert: Alert, *, dev_only: bool) -> Plan:
    """Stop the alert's machines (``details.resource_ids`` when the event named several), or only those whose
    env tag, read now, is a development one."""
    from escher.ops.model import OPERATIONS, Target

    operation = STOP_OPERATION.get(alert.cloud)
    if operation is None or not _is_machine(alert):
        raise ConsoleError(
            f"{alert.alert_id} is about a {alert.resource_type}, not a machine: there is nothing to stop",
            hint="use the alert's own remediation or ask about it",
        )
    op = OPERATIONS.get(operation)
    ids = [str(i) for i in alert.details.get("resource_ids") or [alert.resource_id]]
    region = None if PROVIDERS[alert.cloud].region_in_id else (alert.region or None)
    engine = rt.engine()
    targets = [Target(op.cloud, rid, region) for rid in ids]
    reason = f"alert {alert.alert_id}: stop {'dev only' if dev_only else 'all'} ({alert.title})"
    plan = engine.plan(op.id, targets, {}, actor=str(rt.actor), reason=reason)
    if dev_only:
        keep = [c.target for c in plan.changes if (rt.policy.environment_of(c.before) or "").lower() in _DEV]
        if not keep:
            raise ConsoleError(
                "none of the alert's machines is tagged as development (env=dev)",
                hint="use Stop all, or tag the machines first",
            )
        plan = engine.plan(op.id, keep, {}, actor=str(rt.actor), reason=reason)
    return plan


def _is_machine(alert: Alert) -> bool:
    kind = alert.resource_type.lower()
    return any(word in kind for word in ("instance", "virtualmachine", "vm"))


def plan_approved(rt: Runtime, request_id: str) -> Plan:
    """``escher approvals run ID``: exactly the request's operation, parameters and targets, planned now."""
    from escher.cli.commands.sync_cmd import held_to_approval
    from escher.ops.model import OPERATIONS, Target
    from escher.policy.errors import ApprovalError

    held_to_approval(rt, request_id)
    req = rt.approvals.get(request_id)
    status = req.status_at(datetime.now(UTC))
    if status not in ("pending", "approved"):
        raise ApprovalError(
            f"approval request {request_id} is {status}: it cannot run",
            hint="make the request again from the report or Ask if it is still needed",
        )
    rt.approval_id = request_id
    op = OPERATIONS.get(req.operation)
    targets = [
        Target(op.cloud, rid, region or None)
        for rid, _, region in (t.rpartition("@") if "@" in t else (t, "", "") for t in req.targets)
    ]
    reason = f"{req.reason} (approval {request_id})".strip()
    return rt.engine().plan(op.id, targets, req.params, actor=str(rt.actor), reason=reason)


def needs_approval(rt: Runtime, plan: Plan) -> list[str]:
    """Why the gate would hold this plan for approval (empty: it would not)."""
    from escher.ops import fix

    return fix.approval_reasons(rt, plan)


# -- confirm ------------------------------------------------------------------------------------------------
def confirm(rt: Runtime, plan: Plan, *, approve_reason: str | None = None) -> Outcome:
    """The confirm button: the core's :func:`escher.ops.fix.run_plan` (what ``escher fix`` runs) after the
    person said yes. ``approve_reason`` is the single-operator self-approval (``--approve "reason"``); the gate
    decides whether it counts. Only the next step of a held plan is worded for the console."""
    from escher.ops import fix

    rt.self_approval = approve_reason.strip() if approve_reason and approve_reason.strip() else None
    outcome = fix.run_plan(rt, plan)
    if outcome.request_id is not None:
        outcome.next_step = _next_step(rt, outcome.request_id)
    return outcome


def _next_step(rt: Runtime, request_id: str) -> str:
    if rt.single_operator and rt.actor.is_manager:
        return (
            f"approve it yourself: open Approvals, give a reason and press Approve and run "
            f"(or 'escher approvals run {request_id} --approve \"reason\"')"
        )
    return f"a manager other than you approves request {request_id} in Approvals, then it runs"


# -- approvals ----------------------------------------------------------------------------------------------
def decide(rt: Runtime, request_id: str, *, approve: bool, reason: str) -> str:
    """``escher approvals approve|reject ID --note``: the core refuses a non-manager and one's own request."""
    req = (rt.approvals.approve if approve else rt.approvals.reject)(request_id, by=rt.actor, note=reason)
    return f"{req.request_id}: {req.status} by {req.decided_by}"


def self_grant_allowed(rt: Runtime, requested_by: str) -> bool:
    """Whether this person may approve their own request: only the recorded self-grant of single-operator mode."""
    return rt.single_operator and rt.actor.is_manager and rt.actor.name == requested_by


# -- alerts -------------------------------------------------------------------------------------------------
def acknowledge(rt: Runtime, alert_id: str) -> Alert:
    """``escher alerts ack ID``."""
    from escher.alerts.store import AlertStore
    from escher.pipeline.runtime import state_objects

    return AlertStore(state_objects(extensions=rt.settings.extensions)).acknowledge(
        alert_id, by=rt.actor.name
    )


def _snooze_file(rt: Runtime) -> Any:
    return rt.paths.data_dir / "console" / "snoozed.json"


def snoozed(rt: Runtime, now: datetime | None = None) -> dict[str, datetime]:
    """alert id -> until when it is out of the banners (remind me tomorrow)."""
    path = _snooze_file(rt)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    now = now or datetime.now(UTC)
    out = {}
    for alert_id, until in raw.items() if isinstance(raw, dict) else ():
        try:
            when = datetime.fromisoformat(str(until))
        except ValueError:
            continue
        if when > now:
            out[str(alert_id)] = when
    return out


def snooze(rt: Runtime, alert_id: str, *, now: datetime | None = None) -> datetime:
    """Remind me tomorrow: the alert leaves the banners until 08:00 tomorrow in the configured time zone (it
    stays open and listed); the ledger records who put it off."""
    from zoneinfo import ZoneInfo

    from escher.alerts.store import AlertStore
    from escher.audit import AuditRecord
    from escher.pipeline.runtime import state_objects

    alert = AlertStore(state_objects(extensions=rt.settings.extensions)).get(alert_id)
    now = now or datetime.now(UTC)
    try:
        zone = ZoneInfo(rt.settings.general.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    until = (local + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0).astimezone(UTC)
    current = {k: v.isoformat() for k, v in snoozed(rt, now).items()}
    current[alert.alert_id] = until.isoformat()
    path = _snooze_file(rt)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=1), encoding="utf-8")
    tmp.replace(path)
    rt.sink.append(
        AuditRecord(
            actor=str(rt.actor),
            action="alert.snooze",
            target=alert.resource_id,
            cloud=alert.cloud,
            reason=f"remind me tomorrow: {alert.title}",
            outcome="info",
            details={"alert_id": alert.alert_id, "until": until.isoformat(), "severity": alert.severity},
            correlation_id=alert.correlation_id,
        )
    )
    return until


# -- settings -----------------------------------------------------------------------------------------------
def _ledger_reachable(rt: Runtime) -> None:
    """As ``escher remediation``: the ledger is opened before a setting changes, so a change is never made that
    cannot be recorded (the ledger sink opens its store on this attribute)."""
    getattr(rt.sink, "store", None)


def _manager_only(rt: Runtime, what: str) -> None:
    if not rt.actor.is_manager:
        raise NotAllowedError(
            f"{rt.actor.name} is not a manager: only managers change {what}",
            hint="ask a manager (the [personas] managers list in the config)",
        )


def set_remediation(
    rt: Runtime,
    name: str,
    enabled: bool,
    *,
    idle_hours: float | None = None,
    capacity_percent: float | None = None,
) -> None:
    """``escher remediation enable|disable NAME``: managers only, saved to the config, recorded first."""
    from escher.audit import AuditRecord
    from escher.policy.remediation import find_switch, load_remediation, save_remediation, set_switch

    _manager_only(rt, "which fixes run without asking")
    switch = find_switch(name)
    current = load_remediation(rt.settings.extensions)
    updated = set_switch(
        current, switch.setting, enabled, idle_hours=idle_hours, capacity_percent=capacity_percent
    )
    _ledger_reachable(rt)
    save_remediation(rt.paths, updated)
    rt.sink.append(
        AuditRecord(
            actor=str(rt.actor),
            action=f"remediation.{'enable' if enabled else 'disable'}",
            target=f"remediation/{switch.setting}",
            outcome="succeeded",
            reason=switch.label,
            before={"enabled": bool(getattr(current, switch.setting))},
            after={"enabled": enabled, "idle_hours": idle_hours, "capacity_percent": capacity_percent},
            details={
                "operations": list(switch.operations),
                "config_file": str(rt.paths.config_file),
                "via": "console",
            },
        )
    )


def save_report_template(rt: Runtime, changes: dict[str, Any]) -> None:
    """The ``[report]`` section (sections, focus, format, thresholds), validated by the report's own model."""
    from pydantic import ValidationError

    from escher.report.template import ReportTemplate, load_template

    _manager_only(rt, "the report template")
    before = load_template(rt.settings.extensions)
    merged = before.model_dump(mode="json")
    for key, value in changes.items():
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    try:
        after = ReportTemplate.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConsoleError(
            f"report {'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
            hint="choose one of the listed values",
        ) from None
    load_template({"report": after.model_dump(mode="json")})  # the same checks as on load (section names)
    data = after.model_dump(mode="json", exclude_none=True)
    _save_section(rt, "report", data, before.model_dump(mode="json"), "settings.report_template")


def save_routes(rt: Runtime, routes: dict[str, list[str]]) -> None:
    """``[notify.routes]``: which channels each severity goes to; only configured channels."""
    from escher.notify import load_notify

    _manager_only(rt, "the notification routes")
    current = load_notify(rt.settings.extensions)
    unknown = sorted({c for chans in routes.values() for c in chans} - set(current.channels))
    if unknown:
        raise ConsoleError(
            f"no channel named {', '.join(unknown)}",
            hint=f"configured channels: {', '.join(sorted(current.channels)) or 'none'}",
        )
    updated = load_notify({**rt.settings.extensions, "notify": {**_notify_raw(rt), "routes": routes}})
    _save_section(rt, "notify.routes", dict(updated.routes), dict(current.routes), "settings.notify_routes")


def _notify_raw(rt: Runtime) -> dict[str, Any]:
    raw = rt.settings.extensions.get("notify")
    return dict(raw) if isinstance(raw, dict) else {}


def _save_section(
    rt: Runtime, dotted: str, data: dict[str, Any], before: dict[str, Any], action: str
) -> None:
    """Write one config table, keeping the rest of the file (the approach of ``save_remediation``), then the
    audit record."""
    from escher.audit import AuditRecord
    from escher.config_write import write_section

    _ledger_reachable(rt)
    write_section(rt.paths, dotted, data)
    rt.sink.append(
        AuditRecord(
            actor=str(rt.actor),
            action=action,
            target=f"config/{dotted}",
            outcome="succeeded",
            reason=f"[{dotted}] changed in the console",
            before=before,
            after=data,
            details={"config_file": str(rt.paths.config_file), "via": "console"},
        )
    )
