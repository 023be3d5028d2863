"""Markdown: for chat, tickets and git."""

from __future__ import annotations

from escher.report.model import MorningReport
from escher.report.render._text import (
    ACCOUNTS_TITLE,
    TITLES,
    account_lines,
    cost_lines,
    executive,
    group_details,
    group_headline,
    headline,
    org_summary,
    subtitle,
    top_drivers,
)


def markdown(report: MorningReport) -> str:
    from escher.report.render.content import page

    out = [f"# {headline(report)}", "", f"_{subtitle(report)}_", "", f"**{page(report).headline}**", ""]
    if report.scope_notes:
        out += ["> **Not everything here is from the latest scan**", ">"]
        out += [f"> - {n}" for n in report.scope_notes] + [""]
    if report.partial:
        out += ["> **Partial scan** - these parts could not be read (not counted as zero):", ""]
        out += [f"> - {p}" for p in report.partial] + [""]
    if report.accounts or report.unreachable_accounts:
        out += [f"## {ACCOUNTS_TITLE}", "", f"**{org_summary(report)}**", ""]
        out += [f"- {line}" for line in account_lines(report)] + [""]
    for section in report.sections:
        body = _section(report, section)
        if body is not None:
            out += [f"## {TITLES[section]}", "", *body, ""]
    return "\n".join(out)


def _groups(groups: list, short: bool) -> list[str]:  # type: ignore[type-arg]
    lines: list[str] = []
    for g in groups:
        lines.append(f"- **{group_headline(g)}**")
        if not short:
            lines += [f"  - {d}" for d in group_details(g)]
        if g.fix_command:
            lines.append(f"  - 1-click: `{g.fix_command}`")
    return lines


def _section(report: MorningReport, section: str) -> list[str] | None:
    short = report.format != "detailed"
    if section == "alerts":
        if not report.alerts:
            return ["No critical alerts."]
        return [
            f"- **{a.severity}** {a.title}"
            + (f" - {a.detail}" if a.detail else "")
            + (f" (`{a.fix_command}`)" if a.fix_command else "")
            for a in report.alerts
        ]
    if section == "cost":
        if report.cost is None:
            return ["No cost snapshot for this day."]
        lines = [f"- {line}" for line in cost_lines(report.cost)]
        if not executive(report):
            lines += ["", "Top cost drivers (yesterday):", *[f"1. {d}" for d in top_drivers(report.cost)]]
        lines += ["", f"**Potential savings identified: ${report.savings_total:,.2f}/month**"]
        return lines
    if section == "changes":
        if executive(report):
            return None
        if not report.changes:
            return ["No changes since the previous scan (or no previous scan)."]
        return [
            f"- {c.kind} {c.resource_type} `{c.resource_id}` {c.detail}"
            + (f" by {c.by}" if c.by else "")
            + (f" - cost impact {c.monthly_cost_impact:+,.2f}/month" if c.monthly_cost_impact else "")
            for c in report.changes
        ]
    if section == "security":
        lines = [f"- OK: {g}" for g in report.good_news] if not executive(report) else []
        return lines + (_groups(report.security, short) or ["No security findings."])
    if section == "optimization":
        head = [f"**Total: ${report.savings_total:,.2f}/month**", ""]
        return head + (_groups(report.optimization, short) or ["Nothing to optimize."])
    if section == "operational":
        lines = [f"- OK: {h}" for h in report.health_ok]
        return lines + _groups(report.operational, short) if (lines or report.operational) else ["No data."]
    if section == "questions":
        return None if executive(report) else [f'- "{q}"' for q in report.questions]
    return None


def render(report: MorningReport, fmt: str) -> bytes:
    return markdown(report).encode()
