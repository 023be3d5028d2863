"""Answers to an action that is not an order: "what would happen if..." and "... every night at 20:00".

A question about an action gets what it would affect (the resolved resources, their environment, what depends
on them, their cost where known, whether approval would be needed). A schedule phrase gets what
``escher schedule add`` would store: the cron expression, the operation and its resolved selector. Neither is
an :class:`ExecutionResponse`: nothing here can run.
"""

from __future__ import annotations

import shlex
from collections import defaultdict

from escher.brain._answers import resource_table
from escher.brain._parse import Query, canonical_env
from escher.brain._resolve import scope_of
from escher.brain.models import (
    AskRequest,
    ContextItem,
    Filters,
    InformationResponse,
    PlanStep,
    ScheduleJob,
    ScheduleResponse,
    TableData,
)

__all__ = ["schedule", "what_if"]

_ENV_KEYS = ("env", "environment", "Environment", "Env", "stage")
_PROD = ("prod",)


def _cost(item: ContextItem) -> float | None:
    for key in ("monthly_cost", "cost"):
        value = item.attrs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _dependencies(item: ContextItem, context: list[ContextItem]) -> list[str]:
    """Other resources that point at this one (a volume attached to it) or that it points at."""
    mine = {str(v) for v in item.attrs.values() if isinstance(v, str)}
    out = []
    for other in context:
        if other.kind != "resource" or other.id == item.id:
            continue
        theirs = {str(v) for v in other.attrs.values() if isinstance(v, str)}
        if item.id in theirs or other.id in mine:
            out.append(other.name or other.id)
    return sorted(out)


def what_if(
    req: AskRequest,
    q: Query,
    filters: Filters,
    kind: str,
    matched: list[ContextItem],
    ops: list[tuple[ContextItem, str | None]],
) -> InformationResponse:
    verb = q.intent.replace("_", " ")
    scope = scope_of(matched)
    rows = []
    for item in sorted(matched, key=lambda i: (i.cloud or "", i.region or "", i.id)):
        cost = _cost(item)
        rows.append([item.id, item.name, item.cloud or "", item.region or "", canonical_env(item.environment),
                     item.state, ", ".join(_dependencies(item, req.context)) or "-",
                     "" if cost is None else f"{cost:,.2f}"])  # fmt: skip
    known = [c for i in matched if (c := _cost(i)) is not None]
    envs = ", ".join(f"{n} {env}" for env, n in scope.by_environment.items())
    if not matched:
        summary = f"Nothing in your estate matches, so {verb} would affect nothing."
    else:
        summary = f"If you {verb} these {len(matched)} {kind}(s), it would affect: {envs}."
        if known:
            summary += f" Their known cost is {sum(known):,.2f} a month."
    notices = ["this was a question: nothing was planned or run; ask it as a request to get a plan"]
    missing = sorted({i.cloud or "?" for i, op in ops if op is None})
    if missing:
        notices.append(f"Escher has no operation to {verb} {kind}s on {', '.join(missing)}")
    if any(canonical_env(i.environment) in _PROD for i in matched):
        notices.append("production resources are included: a plan for them needs an approval")
    if any(_dependencies(i, req.context) for i in matched):
        notices.append("other resources depend on some of these (see 'depends')")
    return InformationResponse(
        intent="what_if", filters=filters, summary=summary, notices=notices, scope=scope,
        resource_ids=scope.targets,
        table=TableData(columns=["id", "name", "cloud", "region", "env", "state", "depends", "monthly cost"],
                        rows=rows) if rows else resource_table([]),
        suggested_questions=[q.text.rstrip("?").strip()] if matched else [],
    )  # fmt: skip


def _shared_tag(items: list[ContextItem], env: str) -> tuple[str, str] | None:
    """The one (key, value) environment tag every item carries, if there is one."""
    pairs = {next(((k, i.tags[k]) for k in _ENV_KEYS if k in i.tags), ("", "")) for i in items}
    if len(pairs) != 1:
        return None
    key, value = pairs.pop()
    return (key, value) if key and canonical_env(value) == env else None


def schedule(
    q: Query,
    filters: Filters,
    matched: list[ContextItem],
    steps: list[PlanStep],
    notices: list[str],
    *,
    named: bool,
) -> ScheduleResponse | InformationResponse:
    """``named``: the request names resources, so the job names them too (a tag selector would reach others)."""
    assert q.when is not None
    when = q.when
    verb = q.intent.replace("_", " ")
    if not steps:
        return InformationResponse(
            intent="schedule", filters=filters, notices=notices,
            summary=f"Nothing in your estate matches; no {verb} schedule was proposed.",
        )  # fmt: skip
    by_op: dict[str, list[PlanStep]] = defaultdict(list)
    for step in steps:
        by_op[step.operation_id].append(step)
    items = {i.id: i for i in matched}
    jobs: list[ScheduleJob] = []
    for op_id, group in sorted(by_op.items()):
        targets = sorted({t for s in group for t in s.targets})
        regions = sorted({s.region for s in group if s.region})
        chosen = [items[t] for t in targets if t in items]
        selector: dict[str, str] = {}
        # a tag selector only when it says exactly what the request said: its environment and tags, nothing else
        if (q.environment or q.tags) and not q.narrows and not named and q.intent != "tag":
            shared = _shared_tag(chosen, q.environment) if q.environment else None
            if shared is not None or not q.environment:
                selector = dict(q.tags) | (dict([shared]) if shared else {})
        words = [op_id, *(f"tag:{k}={v}" for k, v in selector.items())]
        words += [] if selector else [f"target:{t}" for t in targets]
        words += [f"region:{r}" for r in regions]
        params = group[0].params
        scalars = {
            k: v for k, v in params.items() if isinstance(v, str | int | float) and not isinstance(v, bool)
        }
        words += [shlex.quote(f"{k}={v}") for k, v in scalars.items()]
        if len(scalars) != len([v for v in params.values() if v not in (None, {}, [])]):
            notices.append(
                f"{op_id}: some parameters cannot be written on the command line; set them by hand"
            )
        job = " ".join(words)
        command = f"escher schedule add {shlex.quote(when.cron)} {shlex.quote(job)} --template TEMPLATE"
        step = group[0]
        jobs.append(ScheduleJob(
            operation_id=op_id, cloud=op_id.split(".")[0], targets=targets, select_by_tags=selector,  # type: ignore[arg-type]
            regions=regions, params=params, job=job, command=command, risk=step.risk,
            requires_approval=step.requires_approval, destructive=step.destructive,
        ))  # fmt: skip
    planned = sorted({t for j in jobs for t in j.targets})
    selector = next((j.select_by_tags for j in jobs if j.select_by_tags), {})
    scope = scope_of(matched, planned, selector)
    if not when.recurring:
        notices.append(f"'{when.phrase}' is one-off but escher schedule repeats: remove it after it runs "
                       "(escher schedule remove ID)")  # fmt: skip
    if when.assumed_time:
        notices.append(
            f"no time was given: {when.described.rsplit(' at ', 1)[1]} is assumed; change the cron"
        )
    notices.append(
        "nothing was run or stored: add it with the command shown, bounded by a manager's template"
    )
    return ScheduleResponse(
        intent=q.intent, filters=filters, cron=when.cron, when=when.described, recurring=when.recurring,
        timezone_note="the time is in the schedule's time zone: general.timezone (ESCHER_TIMEZONE) unless "
        "escher schedule add is given --tz",
        jobs=jobs, template_required=True, scope=scope, notices=list(dict.fromkeys(notices)),
        summary=f"Proposed schedule: {verb} {scope.total} {q.kind or 'resource'}(s) {when.described} "
        f"(cron {when.cron}); nothing runs now.",
    )  # fmt: skip
