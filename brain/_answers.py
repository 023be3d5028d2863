"""Information answers built from the client's context: tables of resources, cost drivers, alerts, reports."""

from __future__ import annotations

import re
from collections import defaultdict

from escher.brain._parse import Query, kind_of
from escher.brain.models import AskRequest, ContextItem, Filters, InformationResponse, TableData

__all__ = ["alerts", "cost_driver", "listing", "report", "resource_table", "timeline"]

_SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def resource_table(items: list[ContextItem], extra: tuple[str, ...] = ()) -> TableData:
    columns = ["id", "name", "cloud", "region", "type", "state", "env", *extra]
    rows = [
        [i.id, i.name, _cell(i.cloud), _cell(i.region), _cell(i.resource_type), i.state, i.environment,
         *(_cell(i.attrs.get(k)) for k in extra)]
        for i in sorted(items, key=lambda i: (i.cloud or "", i.region or "", i.id))
    ]  # fmt: skip
    return TableData(columns=columns, rows=rows)


def listing(
    items: list[ContextItem], intent: str, filters: Filters, summary: str, *, extra: tuple[str, ...] = ()
) -> InformationResponse:
    notices = (
        [] if items else ["nothing in the context the client sent matches; run 'escher scan' to refresh"]
    )
    return InformationResponse(
        intent=intent, filters=filters, summary=summary, table=resource_table(items, extra),
        resource_ids=sorted(i.id for i in items), notices=notices,
    )  # fmt: skip


def _cost(item: ContextItem) -> float | None:
    for key in ("cost", "monthly_cost", "amount"):
        value = item.attrs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def cost_driver(req: AskRequest, q: Query, filters: Filters) -> InformationResponse:
    """Cost rows (report items with ``cost``) by service; else resources with ``monthly_cost`` by type."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    change: dict[tuple[str, str], float] = {}
    currency = "USD"
    for item in req.context:
        cost = _cost(item)
        if cost is None or (q.cloud and item.cloud != q.cloud):
            continue
        if item.kind == "report":
            key = (item.cloud or "?", item.name or item.id)
            pct = item.attrs.get("change_pct")
            if isinstance(pct, int | float):
                change[key] = float(pct)
            currency = str(item.attrs.get("currency") or currency)
        elif item.kind == "resource":
            key = (item.cloud or "?", item.resource_type or "resource")
        else:
            continue
        totals[key] += cost
    if not totals:
        return InformationResponse(
            intent="cost_driver", filters=filters,
            summary="The client sent no cost data; run a scan with cost collection to answer this.",
            notices=["no cost snapshot in the context"],
        )  # fmt: skip
    if _RISE.search(q.text.lower()):
        rise = _cost_rise(req, q, filters, currency)
        if rise is not None:
            return rise
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    grand = sum(totals.values())
    (cloud, name), top = ranked[0]
    rows = [[c, n, f"{v:,.2f}", f"{100 * v / grand:.0f}%", _cell(change.get((c, n)))] for (c, n), v in ranked]
    summary = f"Your biggest cost driver is {name} on {cloud}: {top:,.2f} {currency} ({100 * top / grand:.0f}% of {grand:,.2f})."
    if (cloud, name) in change:
        summary += f" It changed {change[(cloud, name)]:+.1f}% over the period."
    return InformationResponse(
        intent="cost_driver", filters=filters, summary=summary,
        table=TableData(columns=["cloud", "service", "cost", "share", "change %"], rows=rows),
        suggested_questions=["Which VMs are underutilized?", "Stop all dev VMs after hours",
                             "Create a playbook to optimize these costs"],
    )  # fmt: skip


_RISE = re.compile(
    r"\b(increase[sd]?|rise|rose|risen|went up|go up|spike[sd]?|jump(ed)?|gr[eo]w|higher|more)\b"
)


def _num(item: ContextItem, key: str) -> float | None:
    value = item.attrs.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cost_rise(req: AskRequest, q: Query, filters: Filters, currency: str) -> InformationResponse | None:
    """ "Why did spending increase?": the day's change and the services that moved it, largest rise first."""
    moves: list[tuple[float, ContextItem, float, float]] = []
    for item in req.context:
        now, before = _num(item, "cost"), _num(item, "previous_cost")
        if item.kind != "report" or now is None or before is None or (q.cloud and item.cloud != q.cloud):
            continue
        moves.append((now - before, item, now, before))
    if not moves:
        return None
    moves.sort(key=lambda m: (-m[0], m[1].id))
    total = next((i for i in req.context if i.kind == "report" and i.id == "cost:total"), None)
    day_now = sum(m[2] for m in moves) if total is None else _num(total, "day_total") or 0.0
    day_before = sum(m[3] for m in moves) if total is None else _num(total, "previous_day_total") or 0.0
    pct = 100 * (day_now - day_before) / day_before if day_before else None
    delta, top, now, before = moves[0]
    top_pct = f" ({100 * delta / before:+.1f}%)" if before else ""
    if day_now > day_before:
        on_day = f" on {total.text}" if total is not None and total.text else ""
        summary = (f"Spending went from {day_before:,.2f} to {day_now:,.2f} {currency}"
                   f"{f' ({pct:+.1f}%)' if pct is not None else ''}{on_day}. The biggest rise is "
                   f"{top.name or top.id} on {top.cloud or '?'}: {delta:+,.2f} {currency}{top_pct}, "
                   f"{100 * delta / (day_now - day_before):.0f}% of the change.")  # fmt: skip
    else:
        summary = (f"Spending did not rise in the data the client sent: {day_before:,.2f} -> {day_now:,.2f} "
                   f"{currency}; the largest mover is {top.name or top.id} ({delta:+,.2f}).")  # fmt: skip
    if total is not None and (month := _num(total, "month_change_pct")) is not None:
        summary += f" Month to date is {month:+.1f}% against last month."
    rows = [[_cell(i.cloud), i.name or i.id, f"{b:,.2f}", f"{n:,.2f}", f"{d:+,.2f}",
             f"{100 * d / b:+.1f}%" if b else ""] for d, i, n, b in moves]  # fmt: skip
    return InformationResponse(
        intent="cost_change", filters=filters, summary=summary,
        table=TableData(columns=["cloud", "service", "previous", "latest", "change", "change %"], rows=rows),
        suggested_questions=[f"Show the {top.name or top.id} resources", "Which VMs are underutilized?",
                             "Create a playbook to optimize these costs"],
    )  # fmt: skip


def alerts(req: AskRequest, q: Query, filters: Filters) -> InformationResponse:
    found = [i for i in req.context if i.kind == "alert" and (not q.cloud or i.cloud == q.cloud)]
    found.sort(key=lambda i: (-_SEVERITY_RANK.get(i.state.lower(), 0), i.id))
    rows = [[i.id, i.state, _cell(i.cloud), i.name, i.text[:200]] for i in found]
    summary = f"{len(found)} alert(s)" + (
        f"; the most severe: {found[0].name or found[0].id} ({found[0].state})" if found else ""
    )
    return InformationResponse(
        intent="alerts", filters=filters, summary=summary, resource_ids=[i.id for i in found],
        table=TableData(columns=["id", "severity", "cloud", "name", "summary"], rows=rows),
        suggested_questions=["Show me the full timeline of this alert", "Create a prevention playbook"],
    )  # fmt: skip


def report(req: AskRequest, q: Query, filters: Filters) -> InformationResponse:
    found = [
        i for i in req.context if i.kind in ("finding", "report") and (not q.cloud or i.cloud == q.cloud)
    ]
    found.sort(key=lambda i: (-_SEVERITY_RANK.get(i.state.lower(), 0), i.id))
    rows = [[i.id, i.state, _cell(i.cloud), i.name, i.text[:200]] for i in found]
    return InformationResponse(
        intent="report", filters=filters, resource_ids=[i.id for i in found],
        summary=f"The report has {len(found)} item(s) in this context"
        + (f"; first: {found[0].name or found[0].id}" if found else ""),
        table=TableData(columns=["id", "severity", "cloud", "title", "summary"], rows=rows),
        suggested_questions=["What's my biggest cost driver?", "Fix the critical findings"],
    )  # fmt: skip


def _stages(item: ContextItem) -> list[tuple[str, str]]:
    return sorted((str(v), k.removeprefix("t.")) for k, v in item.attrs.items() if k.startswith("t.") and v)


def timeline(req: AskRequest, q: Query, filters: Filters) -> InformationResponse:
    """The story of one alert from its stored timings: event, detection, decision, fix, verification."""
    found = [i for i in req.context if i.kind == "alert" and (not q.cloud or i.cloud == q.cloud)]
    named = [i for i in found if i.id in q.named or i.id.lower() in q.text.lower()]
    by_kind = [i for i in found if q.kind and (kind_of(i.resource_type) == q.kind or kind_of(str(i.attrs.get("event_type", ""))) == q.kind)]  # fmt: skip
    pool = named or by_kind or found
    if not pool:
        return InformationResponse(
            intent="timeline", filters=filters, summary="No stored alert matches; there is no timeline to show.",
            notices=["the client sent no alerts; 'escher events' shows what the pipeline handled"],
        )  # fmt: skip
    pool.sort(key=lambda i: (-_SEVERITY_RANK.get(i.state.lower(), 0), -len(_stages(i)),
                             "".join(reversed(_stages(i)[-1][0])) if _stages(i) else "", i.id))  # fmt: skip
    alert = pool[0]
    stages = _stages(alert)
    summary = f"Timeline of {alert.name or alert.id} ({alert.id}, {alert.state or 'unknown severity'})"
    if stages:
        summary += f": {stages[0][1]} at {stages[0][0]}, {stages[-1][1]} at {stages[-1][0]}"
    exposure = _num(alert, "exposure_seconds")
    if exposure is not None:
        summary += f"; exposed for {exposure:,.0f} s"
    if alert.attrs.get("status"):
        summary += f"; status: {alert.attrs['status']}"
    rows = [[at, stage] for at, stage in stages]
    notices = [] if stages else ["this alert carries no stage timings"]
    others = [i.id for i in pool[1:]]
    if others:
        notices.append(f"{len(others)} other matching alert(s): {', '.join(others[:5])}")
    return InformationResponse(
        intent="timeline", filters=filters, summary=summary + ".", resource_ids=[alert.id], notices=notices,
        table=TableData(columns=["at", "stage"], rows=rows),
        suggested_questions=["Create a prevention playbook", "Show all open alerts"],
    )  # fmt: skip
