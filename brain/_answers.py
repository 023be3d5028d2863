"""Information answers built from the client's context: tables of resources, cost drivers, alerts, reports."""

from __future__ import annotations

import re
from collections import defaultdict

from escher.brain._parse import Query, kind_of
from escher.brain.models import AskRequest, ContextItem, Filters, InformationResponse, TableData

__all__ = [
    "alerts",
    "answer_report_question",
    "changes",
    "cost_breakdown",
    "cost_driver",
    "cost_week",
    "finding_group",
    "listing",
    "optimizations",
    "report",
    "report_question",
    "resource_table",
    "timeline",
]

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


def cost_driver(req: AskRequest, q: Query, filters: Filters, *, moved: bool = False) -> InformationResponse:
    """Cost rows (report items with ``cost``) by service; else resources with ``monthly_cost`` by type.
    ``moved``: the question asks why spending moved (either way), answered with the day's movers."""
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
    if moved or _RISE.search(q.text.lower()):
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


# -- the questions the morning report suggests (escher.report.builder._questions) ---------------------------------
# Each is answered from the same stored data the report shows: findings grouped by check, and the cost snapshots
# (per service, per day total, per environment / region / account). None of these ever plans anything.

_OPTIMIZE_FIRST = re.compile(
    r"\bwhich optimi[sz]ations?\b|\boptimi[sz]ations?\b.*\bfirst\b|\bwhat should i (?:fix|do|optimi[sz]e) first\b"
    r"|\b(?:biggest|largest|top) savings?\b|\bsave the most\b"
)
_QUOTED = re.compile("['\"\u2018\u201c]([^'\"\u2019\u201d]{4,200})['\"\u2019\u201d]")
_IN_GROUP = re.compile(r"\b(?:resources?|findings?|items?)\s+(?:in|of|for|under)\b")
_WEEK = re.compile(
    r"\b(?:compare|comparison|vs\.?|versus|against)\b.*\blast week\b|\bweek[- ]over[- ]week\b"
    r"|\blast week\b.*\b(?:compare|vs\.?|versus)\b|\bthis week\b.*\blast week\b"
)
_COST_WORD = re.compile(r"\bcosts?\b|\bspend(?:ing)?\b|\bspent\b|\bbill\b|\bbilling\b")
_BREAKDOWN = re.compile(
    r"\b(?:breakdown|break\s+down|split|broken\s+down|by|per|each)\b[\w\s]{0,20}?\b"
    r"(environment|env|stage|region|location|account|subscription|project|service)s?\b"
)
_CHANGE = re.compile(
    r"\bwhy\b.*\b(?:spending|spend|costs?|bill)\b.*\b(?:change[sd]?|rise|rose|increase[sd]?|go(?:ne)? up|went up"
    r"|drop(?:ped)?|fall|fell|decrease[sd]?|jump(?:ed)?|spike[sd]?)\b"
)
_DIMENSIONS = {"environment": "environment", "env": "environment", "stage": "environment", "region": "region",
               "location": "region", "account": "account", "subscription": "account", "project": "account",
               "service": "service"}  # fmt: skip


_NEW = re.compile(
    r"\bnew resources?\b.*\b(?:created|needed|why|who)\b|\bwhy were\b.*\bcreated\b|\bwhat changed\b"
    r"|\bchanges since\b"
)


def report_question(text: str) -> tuple[str, str] | None:
    """Which of the report's own questions ``text`` asks, with its argument: ("optimizations", ""),
    ("finding_group", title), ("cost_week", ""), ("cost_breakdown", dimension), ("cost_change", ""); else None.
    Used by the planner to answer and by the client to send the context the answer needs."""
    low = " ".join(text.lower().split())
    quoted = _QUOTED.search(text)
    if quoted and _IN_GROUP.search(low):
        return "finding_group", quoted.group(1).strip()
    if _OPTIMIZE_FIRST.search(low):
        return "optimizations", ""
    if _NEW.search(low):
        return "changes", ""
    if _COST_WORD.search(low):
        if _WEEK.search(low):
            return "cost_week", ""
        if m := _BREAKDOWN.search(low):
            return "cost_breakdown", _DIMENSIONS[m.group(1)]
        if _CHANGE.search(low):
            return "cost_change", ""
    return None


def answer_report_question(
    kind: str, arg: str, req: AskRequest, q: Query, filters: Filters
) -> InformationResponse:
    if kind == "finding_group":
        return finding_group(req, arg, filters)
    if kind == "optimizations":
        return optimizations(req, filters)
    if kind == "changes":
        return changes(req, filters)
    if kind == "cost_week":
        return cost_week(req, q, filters)
    if kind == "cost_breakdown":
        return cost_breakdown(req, q, filters, arg)
    return cost_driver(req, q, filters, moved=True)


def _no_cost(filters: Filters, intent: str) -> InformationResponse:
    return InformationResponse(
        intent=intent, filters=filters,
        summary="No cost snapshot is stored yet: run 'escher cost sync' (or wait for the daily job), then ask again.",
        notices=["no cost snapshot in the context"],
    )  # fmt: skip


def _findings(req: AskRequest) -> list[ContextItem]:
    return [i for i in req.context if i.kind == "finding"]


def finding_group(req: AskRequest, title: str, filters: Filters) -> InformationResponse:
    """ "Show me the 2 resources in 'EBS volume is not attached to anything'": exactly that group's resources."""
    want = title.lower().strip(" .")
    found = [i for i in _findings(req) if (i.name or "").lower().strip(" .") == want]
    if not found:  # never another group's resources, never the whole estate
        titles = sorted({i.name for i in _findings(req) if i.name})
        from difflib import get_close_matches

        close = get_close_matches(title, titles, n=3)
        return InformationResponse(
            intent="finding_group", filters=filters,
            summary=f"No finding group titled '{title}' in the latest scan. Nothing was listed.",
            notices=[f"did you mean: {'; '.join(close)}"] if close else ["run 'escher scan' to refresh the findings"],
        )  # fmt: skip
    found.sort(key=lambda i: (-(_num(i, "monthly_saving") or 0.0), str(i.attrs.get("resource_id", i.id))))
    rows = [[str(i.attrs.get("resource_id") or i.id), _cell(i.region), i.state,
             f"{_num(i, 'monthly_saving') or 0.0:,.2f}", _cell(i.attrs.get("finding_id")), i.text[:200]]
            for i in found]  # fmt: skip
    saving = sum(_num(i, "monthly_saving") or 0.0 for i in found)
    summary = f"{len(found)} resource(s) in '{found[0].name}'"
    summary += f", {saving:,.2f}/month to save" if saving else ""
    return InformationResponse(
        intent="finding_group", filters=filters, summary=summary + ".",
        resource_ids=[str(i.attrs.get("resource_id") or i.id) for i in found],
        table=TableData(columns=["resource", "region", "severity", "monthly saving", "finding", "detail"], rows=rows),
        suggested_questions=["Which optimizations should I do first?"],
    )  # fmt: skip


def optimizations(req: AskRequest, filters: Filters) -> InformationResponse:
    """The report's optimization groups (cost findings by check), largest monthly saving first: do that first."""
    groups: dict[str, list[ContextItem]] = defaultdict(list)
    for i in _findings(req):
        if i.attrs.get("category") == "cost":
            groups[str(i.attrs.get("check_id") or i.name)].append(i)
    if not groups:
        return InformationResponse(
            intent="optimizations", filters=filters,
            summary="The latest scan found no cost optimization to make.",
            notices=[] if _findings(req) else ["no findings in the context; run 'escher scan'"],
        )  # fmt: skip
    ranked = sorted(
        groups.items(), key=lambda kv: (-sum(_num(i, "monthly_saving") or 0.0 for i in kv[1]), kv[0])
    )
    rows = []
    for n, (_check, items) in enumerate(ranked, 1):
        saving = sum(_num(i, "monthly_saving") or 0.0 for i in items)
        ids = [str(i.attrs.get("finding_id") or "") for i in items if i.attrs.get("finding_id")]
        fix = f"escher fix {' '.join(ids[:3])}" if ids and items[0].attrs.get("fix_operation") else "by hand"
        rows.append([str(n), items[0].name, str(len(items)), f"{saving:,.2f}", fix])
    first = rows[0]
    summary = f"Start with '{first[1]}': {first[2]} resource(s), {first[3]}/month"
    total = sum(_num(i, "monthly_saving") or 0.0 for items in groups.values() for i in items)
    summary += f" of {total:,.2f}/month in {len(rows)} optimization(s)."
    return InformationResponse(
        intent="optimizations", filters=filters, summary=summary,
        resource_ids=sorted(str(i.attrs.get("resource_id") or i.id) for items in groups.values() for i in items),
        table=TableData(columns=["#", "optimization", "resources", "monthly saving", "fix"], rows=rows),
        suggested_questions=[f"Show me the {first[2]} resources in '{first[1]}'"],
    )  # fmt: skip


def _total(req: AskRequest) -> ContextItem | None:
    return next((i for i in req.context if i.kind == "report" and i.id == "cost:total"), None)


def cost_week(req: AskRequest, q: Query, filters: Filters) -> InformationResponse:
    """The last 7 days against the 7 before, in total and per service (from the stored snapshots)."""
    total = _total(req)
    week, before = (_num(total, "week_total"), _num(total, "previous_week_total")) if total else (None, None)
    if total is None or week is None or before is None:
        return _no_cost(filters, "cost_week")
    currency = str(total.attrs.get("currency") or "USD")
    pct = f" ({100 * (week - before) / before:+.1f}%)" if before else ""
    summary = (f"The last 7 days to {total.text} cost {week:,.2f} {currency}, against {before:,.2f} the 7 days "
               f"before: {week - before:+,.2f}{pct}.")  # fmt: skip
    rows = []
    for i in req.context:
        now, prev = _num(i, "week_cost"), _num(i, "previous_week_cost")
        if i.kind != "report" or now is None or prev is None or (q.cloud and i.cloud != q.cloud):
            continue
        rows.append((now - prev, [_cell(i.cloud), i.name or i.id, f"{prev:,.2f}", f"{now:,.2f}", f"{now - prev:+,.2f}",
                                  f"{100 * (now - prev) / prev:+.1f}%" if prev else ""]))  # fmt: skip
    rows.sort(key=lambda r: (-abs(r[0]), r[1][1]))
    if rows and rows[0][0]:
        summary += f" The biggest mover is {rows[0][1][1]} ({rows[0][1][4]})."
    return InformationResponse(
        intent="cost_week", filters=filters, summary=summary,
        table=TableData(columns=["cloud", "service", "previous 7 days", "last 7 days", "change", "change %"],
                        rows=[r for _, r in rows]),
        suggested_questions=["Show me cost breakdown by environment", "Which optimizations should I do first?"],
    )  # fmt: skip


def cost_breakdown(req: AskRequest, q: Query, filters: Filters, dimension: str) -> InformationResponse:
    """Yesterday's cost split by environment (the cost-allocation tag), region, account or service."""
    if dimension == "service":
        items = [i for i in req.context if i.kind == "report" and _num(i, "cost") is not None
                 and str(i.id).startswith("cost:")]  # fmt: skip
        key = "cost"
    else:
        items = [i for i in req.context if i.kind == "report" and i.attrs.get("dimension") == dimension]
        key = "breakdown_cost"
    items = [i for i in items if not q.cloud or i.cloud == q.cloud]
    if not items:
        if _total(req) is None:
            return _no_cost(filters, "cost_breakdown")
        return InformationResponse(
            intent="cost_breakdown", filters=filters,
            summary=f"The stored cost snapshots have no {dimension} split (Azure and GCP give none; on AWS, "
            "activate the env cost-allocation tag).",
        )  # fmt: skip
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for i in items:
        totals[(i.cloud or "?", i.name or "(untagged)")] += _num(i, key) or 0.0
    grand = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    currency = next((str(i.attrs["currency"]) for i in items if i.attrs.get("currency")), "USD")
    day = next((i.text for i in items if i.text), "")
    rows = [[c, n, f"{v:,.2f}", f"{100 * v / grand:.0f}%"] for (c, n), v in ranked]
    (_cloud, top), amount = ranked[0]
    summary = (f"Cost by {dimension}{f' on {day}' if day else ''}: {top} is the largest with {amount:,.2f} "
               f"{currency} ({100 * amount / grand:.0f}% of {grand:,.2f}).")  # fmt: skip
    return InformationResponse(
        intent="cost_breakdown", filters=filters, summary=summary,
        table=TableData(columns=["cloud", dimension, "cost", "share"], rows=rows),
        suggested_questions=["Compare costs with last week", "What's my biggest cost driver?"],
    )  # fmt: skip


def changes(req: AskRequest, filters: Filters) -> InformationResponse:
    """ "Why were the new resources created, and are they still needed?": the report's changes since the
    previous scan, who created each (the CreatedBy / owner tag: the reason itself is nobody's record), its
    monthly cost, and whether a finding says it is unused."""
    found = [i for i in req.context if i.kind == "report" and i.id.startswith("change:")]
    if not found:
        return InformationResponse(
            intent="changes", filters=filters,
            summary="The latest report has no changes since the previous scan.",
            notices=["changes need two scans; run 'escher scan' again later"],
        )  # fmt: skip
    unused: dict[str, str] = {}
    for f in _findings(req):
        if f.attrs.get("category") == "cost" and f.attrs.get("resource_id"):
            unused.setdefault(str(f.attrs["resource_id"]), f.name)
    rows = []
    for i in found:
        rid = str(i.attrs.get("resource_id") or i.id)
        verdict = (
            f"maybe not: {unused[rid]}" if rid in unused else ("gone" if i.state == "removed" else "in use")
        )
        rows.append([i.state, rid, _cell(i.resource_type), i.name, _cell(i.attrs.get("by")) or "not recorded",
                     f"{_num(i, 'monthly_cost_impact') or 0.0:+,.2f}", verdict])  # fmt: skip
    added = [r for r in rows if r[0] == "added"]
    cost = sum(_num(i, "monthly_cost_impact") or 0.0 for i in found)
    who = sorted({r[4] for r in added if r[4] != "not recorded"})
    summary = (
        f"{len(added)} new resource(s) since the previous scan ({len(found)} change(s), {cost:+,.2f}/month)"
    )
    summary += f", created by {', '.join(who)}" if who else ""
    doubtful = [r[1] for r in rows if r[6].startswith("maybe not")]
    summary += (
        f"; {len(doubtful)} look unused: {', '.join(doubtful[:3])}." if doubtful else "; none looks unused."
    )
    return InformationResponse(
        intent="changes", filters=filters, summary=summary,
        resource_ids=[r[1] for r in rows],
        notices=["who comes from the CreatedBy / owner tag; why is not recorded anywhere Escher reads: ask them"],
        table=TableData(columns=["change", "resource", "type", "detail", "created by", "monthly", "still needed?"],
                        rows=rows),
    )  # fmt: skip
