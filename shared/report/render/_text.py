"""Words shared by the text-like renderers (Markdown, HTML, PDF, terminal)."""

from __future__ import annotations

from typing import Any

from escher.report.model import Group, MorningReport

TITLES = {
    "alerts": "Critical alerts (last 24 h)",
    "cost": "Cost summary",
    "changes": "Top changes since the previous scan",
    "security": "Security & compliance",
    "optimization": "Optimization opportunities",
    "operational": "Operational health",
    "questions": "Ask me anything about this report",
}


def money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def signed(value: float, pct: float | None = None) -> str:
    if round(value, 2) == 0:
        return "$0.00"  # nothing moved: no sign, no colour
    sign = "+" if value > 0 else "-"
    text = f"{sign}${abs(value):,.2f}"
    return f"{text} ({pct:+.1f}%)" if pct is not None else text


def cost_lines(cost: dict[str, Any]) -> list[str]:
    lines = [
        f"Yesterday: {money(cost['yesterday'])} | Month to date: {money(cost['month_to_date'])}"
        + (f" | Budget: {money(cost['budget'])}" if cost.get("budget") is not None else ""),
        f"{signed(cost['day_delta'], cost.get('day_delta_pct'))} vs previous day"
        + (" - above your threshold" if cost.get("above_threshold") else ""),
        f"{signed(cost['month_delta'], cost.get('month_delta_pct'))} vs the same days last month",
        f"Forecast for the month: {money(cost['forecast_month'])}"
        + (" - over budget" if cost.get("over_budget") else ""),
    ]
    return lines


def top_drivers(cost: dict[str, Any], n: int = 5) -> list[str]:
    return [
        f"{svc}: {money(amount)} ({signed(delta)} vs previous day)"
        for svc, amount, delta in cost["by_service"][:n]
    ]


def group_headline(g: Group) -> str:
    saving = f" - saves {money(g.monthly_saving)}/month" if g.monthly_saving else ""
    return f"[{g.severity}] {g.count} x {g.title}{saving}"


def group_details(g: Group) -> list[str]:
    envs = ", ".join(f"{k} ({v})" for k, v in sorted(g.environments.items()))
    lines = [f"Environment: {envs}"] if envs else []
    lines += g.resources
    if g.count > len(g.resources):
        lines.append(f"... and {g.count - len(g.resources)} more")
    comp = "; ".join(f"{k} {', '.join(v)}" for k, v in g.compliance.items())
    if comp:
        lines.append(f"Controls: {comp}")
    lines.append(f"Fix: {g.remediation}")
    return lines


def headline(report: MorningReport) -> str:
    return f"Good Morning Report - {report.report_date}"


def subtitle(report: MorningReport) -> str:
    text = (
        f"Generated {report.generated_at} | data as of {report.data_as_of} | {report.resources:,} resources"
    )
    return text + f" | focus: {report.focus}"


ACCOUNTS_TITLE = "Accounts"
_SEV = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


def org_summary(report: MorningReport) -> str:
    """Say "6 accounts read, 1 not reached" (empty for a scan of one account)."""
    if not (report.accounts or report.unreachable_accounts):
        return ""
    read = len(report.accounts)
    text = f"{read} account{'s' if read != 1 else ''} read"
    text += f", {len(report.unreachable_accounts)} not reached" if report.unreachable_accounts else ""
    org = report.organization
    if org:  # the breakdown is the extension's organization scan, not this laptop's
        text += f" - organization scan {org['run']}" + ("" if org.get("complete", True) else " (incomplete)")
    return text


def account_row(row: dict[str, Any]) -> list[str]:
    """One account's cells: account, cloud, findings, per severity, resources."""
    return [
        str(row["account"]),
        str(row["cloud"]),
        str(row["findings"]),
        *(str(row.get(s, 0)) for s in _SEV),
        f"{row['resources']:,}",
    ]


ACCOUNT_HEAD = ["account", "cloud", "findings", *(s.lower() for s in _SEV), "resources"]


def account_lines(report: MorningReport) -> list[str]:
    """The per-account breakdown as lines of text, then the accounts not reached."""
    lines = []
    for row in report.accounts:
        sev = ", ".join(f"{row[s]} {s.lower()}" for s in _SEV if row.get(s))
        n, res = row["findings"], row["resources"]
        lines.append(
            f"{row['cloud']} {row['account']}: {n} finding{'s' if n != 1 else ''}"
            + (f" ({sev})" if sev else "")
            + f", {res:,} resource{'s' if res != 1 else ''}"
        )
    lines += [f"NOT REACHED {u}" for u in report.unreachable_accounts]
    return lines


def executive(report: MorningReport) -> bool:
    return report.format == "executive"
