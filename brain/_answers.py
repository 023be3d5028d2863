"""Information answers built from the client's context: tables of resources, cost drivers, alerts, reports."""

from __future__ import annotations

from collections import defaultdict

from escher.brain._parse import Query
from escher.brain.models import AskRequest, ContextItem, Filters, InformationResponse, TableData

__all__ = ["alerts", "cost_driver", "listing", "report", "resource_table"]

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
