"""What each kind of job does when it runs (locally, or in a worker in Extend mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from escher.errors import EscherError
from escher.lazy import is_installed
from escher.schedule.jobs import Job

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.scans.persist import ResultStore

__all__ = ["ScheduleRunError", "default_executor", "store_backup_hook"]


class ScheduleRunError(EscherError):
    """A scheduled job ran and did not do what it was for (refused, failed, or its template is gone)."""


def default_executor(job: Job) -> str:
    from escher.config import load_settings
    from escher.scans.persist import close_store, open_store

    if job.kind == "operation":
        return _operation(job)
    settings = load_settings()
    store = open_store()
    try:
        return _scan_or_report(job, settings, store)
    finally:
        close_store(store)


def _scan_or_report(job: Job, settings: Settings, store: ResultStore) -> str:
    if job.kind in ("scan", "daily"):
        from escher.report.template import load_template
        from escher.scans.runner import ScanOptions, run_scan, sync_costs

        template = load_template(settings.extensions)
        options = ScanOptions(clouds=job.clouds, thresholds=template.thresholds.scan_thresholds())
        result = run_scan(settings, options, store=store)
        text = f"scan {result.scan_id}: {len(result.failed)} findings"
        if job.kind == "scan":
            return text
        missing: list[str] = []  # one cloud's billing being unreachable must not cost the others theirs
        snaps = sync_costs(job.clouds, store=store, failures=missing)
        text += f"; {len(snaps)} cost snapshots"
        if missing:
            text += "; cost NOT read for " + "; ".join(missing)
        text += _stop_idle(result, settings)
    else:
        text = ""
    if job.kind in ("report", "daily"):
        from escher.report.service import build_and_store

        report = build_and_store(store, settings.extensions)
        return (text + "; " if text else "") + f"report {report.report_date}"
    return text


def _stop_idle(result: Any, settings: Settings) -> str:
    """The daily run's "stop idle instances" (Local Only): when that switch is on, each idle finding becomes a
    stop through the local pipeline, its gate and ledger (escher.pipeline.idle); off, nothing. A failure here is
    said in the run's line and never costs the scan or the report."""
    from collections import Counter

    from escher.pipeline.idle import stop_idle_locally

    try:
        stops = stop_idle_locally(result, settings)
    except EscherError as exc:
        return f"; idle instances NOT stopped: {exc.message}"
    if not stops:
        return ""
    outcomes = Counter(s.outcome for s in stops)
    return "; idle instances: " + ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))


def _operation(job: Job) -> str:
    """A scheduled operation. With a manager's template it runs inside the template's bounds (tags, count,
    regions, window), as templates run for executors: no approval, anything outside refused. Without one it
    runs as the automation persona, which the gate lets through only for a pre-approved remediation switch.
    Either way the gate's decision and every change are audited."""
    from escher.ops.model import OPERATIONS
    from escher.policy.personas import Actor, Persona
    from escher.policy.runtime import open_runtime

    assert job.operation is not None
    rt = open_runtime()
    template = None
    if job.template:
        template = rt.templates.get(job.template)
        if template is None or template.operation != job.operation:
            raise ScheduleRunError(
                f"template {job.template!r} is gone or no longer runs {job.operation}",
                hint="see `escher templates list`; re-add the schedule with a template that runs it",
            )
        rt.actor = Actor("scheduler", Persona.executor)  # bounded by the template, as an executor would be
    else:
        rt.actor = Actor("scheduler", Persona.automation)
    engine = rt.engine(template)
    op = OPERATIONS.get(job.operation)
    params = template.params_for(job.params) if template else job.params
    targets = engine.resolve_targets(op, job.targets, tags=job.tags, regions=job.regions)
    # nobody looks at the plan before it runs: plan and execute in one call, so each target is read once
    result = engine.run(op.id, targets, params, actor=str(rt.actor), reason=f"schedule: {job.describe()}")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items()))
    if not result.ok:
        refused = result.decision is not None and not result.decision.allowed
        hint = (
            "nobody is there to approve a scheduled run: bound it with a manager's template (`escher schedule "
            "add ... --template NAME`) or pre-approve it with its [remediation] switch"
            if refused
            else "see `escher audit` for the reasons"
        )
        why = f" ({result.decision.reason})" if refused and result.decision is not None else ""
        raise ScheduleRunError(f"{op.id}: {counts or 'nothing done'}{why}", hint=hint)
    return f"{op.id}: {counts or 'no targets'}"


def store_backup_hook() -> Callable[[], None] | None:
    """The agent's hourly store backup (``escher.store.backup.backup_if_due``) when the store is installed and
    a backup bucket is configured (ESCHER_STATE_URL or [state] url); None otherwise."""
    if not (is_installed("escher.store.backup") and is_installed("psycopg")):
        return None
    from escher.config import load_settings
    from escher.state import state_url

    url = state_url(load_settings().extensions)
    if not url:
        return None

    def backup() -> None:
        from escher.config import resolve_paths
        from escher.state import open_state
        from escher.store.backup import backup_if_due
        from escher.store.store import Store

        paths = resolve_paths()
        with Store.open(paths=paths) as store:
            backup_if_due(store.url, paths, open_state(url))

    return backup
