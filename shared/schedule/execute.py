"""What each kind of job does when it runs (locally, or in a worker in Extend mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from escher.lazy import is_installed
from escher.schedule.jobs import Job

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.scans.persist import ResultStore

__all__ = ["default_executor", "store_backup_hook"]


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
        snaps = sync_costs(job.clouds, store=store)
        text += f"; {len(snaps)} cost snapshots"
    else:
        text = ""
    if job.kind in ("report", "daily"):
        from escher.report.service import build_and_store

        report = build_and_store(store, settings.extensions)
        return (text + "; " if text else "") + f"report {report.report_date}"
    return text


def _operation(job: Job) -> str:
    """Scheduled operations run as the automation persona: the policy gate lets through only what the user
    pre-approved ([remediation] settings or a template); anything else is refused and recorded."""
    from escher.ops.model import OPERATIONS
    from escher.policy.personas import Actor, Persona
    from escher.policy.runtime import open_runtime

    assert job.operation is not None
    rt = open_runtime()
    rt.actor = Actor("scheduler", Persona.automation)
    engine = rt.engine()
    op = OPERATIONS.get(job.operation)
    targets = engine.resolve_targets(op, job.targets, tags=job.tags, regions=job.regions)
    plan = engine.plan(op.id, targets, job.params, actor=str(rt.actor), reason=f"schedule: {job.describe()}")
    result = engine.execute(plan)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items()))
    return f"{op.id}: {counts}"


def store_backup_hook() -> Callable[[], None] | None:
    """The hourly backup the store provides (``escher.store.backup.run_backup``), when it exists."""
    if not is_installed("escher.store.backup"):
        return None
    import importlib

    hook: Callable[[], None] = importlib.import_module("escher.store.backup").run_backup
    return hook
