"""The terminal view (rich): what `escher report` shows when you open the laptop."""

from __future__ import annotations

import io

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

_STYLE = {
    "CRITICAL": "bold white on red",
    "HIGH": "bold red",
    "MEDIUM": "yellow",
    "LOW": "cyan",
    "INFO": "dim",
}


def print_report(report: MorningReport, console: object | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.rule import Rule

    con = console if isinstance(console, Console) else Console()
    con.print(Panel(f"[bold]{escape(headline(report))}[/]\n[dim]{escape(subtitle(report))}[/]", style="blue"))
    from escher.report.render.content import page

    con.print(f"[bold]{escape(page(report).headline)}[/]")
    for note in report.scope_notes:
        con.print(f"[yellow]{escape(note)}[/]")
    if report.partial:
        con.print("[bold yellow]Partial scan[/] - not counted as zero:")
        for p in report.partial:
            con.print(f"  [yellow]- {escape(p)}[/]")
    if report.accounts or report.unreachable_accounts:
        con.print(Rule(f"[bold]{ACCOUNTS_TITLE}: {escape(org_summary(report))}[/]", align="left"))
        for line in account_lines(report):
            style = "yellow" if line.startswith("NOT REACHED") else ""
            con.print(f"  [{style}]{escape(line)}[/]" if style else f"  {escape(line)}", highlight=False)
    short = report.format != "detailed"
    for section in report.sections:
        if executive(report) and section in ("changes", "questions"):
            continue
        con.print(Rule(f"[bold]{TITLES[section]}[/]", align="left"))
        if section == "alerts":
            for a in report.alerts:
                fix = f"  [blue]{escape(a.fix_command)}[/]" if a.fix_command else ""
                con.print(
                    f"[{_STYLE.get(a.severity, '')}] {a.severity} [/] {escape(a.title)} {escape(a.detail)}{fix}"
                )
            if not report.alerts:
                con.print("[green]No critical alerts.[/]")
        elif section == "cost":
            if report.cost is None:
                con.print("No cost snapshot for this day.")
                continue
            for line in cost_lines(report.cost):
                con.print(escape(line))
            if not executive(report):
                for n, d in enumerate(top_drivers(report.cost), 1):
                    con.print(f"  {n}. {escape(d)}")
            con.print(f"[bold green]Potential savings identified: ${report.savings_total:,.2f}/month[/]")
        elif section == "changes":
            for c in report.changes:
                impact = (
                    f" [magenta]{c.monthly_cost_impact:+,.2f} $/month[/]" if c.monthly_cost_impact else ""
                )
                con.print(f"  {c.kind} {c.resource_type} {escape(c.resource_id)} {escape(c.detail)}{impact}")
            if not report.changes:
                con.print("No changes since the previous scan.")
        elif section == "questions":
            for q in report.questions:
                con.print(f'  [italic]"{escape(q)}"[/]')
        else:
            if section == "security" and not executive(report):
                for g in report.good_news:
                    con.print(f"[green]OK[/] {escape(g)}")
            for h in report.health_ok if section == "operational" else []:
                con.print(f"[green]OK[/] {escape(h)}")
            for g in getattr(report, section):
                con.print(f"[{_STYLE.get(g.severity, '')}]{escape(group_headline(g))}[/]")
                if not short:
                    for d in group_details(g):
                        con.print(f"    {escape(d)}")
                if g.fix_command:
                    con.print(f"    [blue]1-click: {escape(g.fix_command)}[/]")


def render(report: MorningReport, fmt: str) -> bytes:
    from rich.console import Console

    buf = io.StringIO()
    print_report(report, Console(file=buf, width=110, force_terminal=False))
    return buf.getvalue().encode()
