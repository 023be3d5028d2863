"""HTML: one self-contained page (inline CSS, no scripts), readable in a browser or an email client."""

from __future__ import annotations

from html import escape

from escher.report.model import Group, MorningReport
from escher.report.render._text import (
    TITLES,
    cost_lines,
    executive,
    group_details,
    headline,
    money,
    subtitle,
    top_drivers,
)

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f4f6f8;color:#1f2933}
main{max-width:960px;margin:0 auto;padding:24px}
header{background:#12355b;color:#fff;padding:20px 24px;border-radius:8px}
header h1{margin:0 0 6px;font-size:24px} header p{margin:0;opacity:.85;font-size:13px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin-top:16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 12px;border-bottom:1px solid #e4e7eb;padding-bottom:6px}
.alerts{border-left:6px solid #c81e1e;background:#fff5f5}
.sev{display:inline-block;min-width:70px;text-align:center;border-radius:4px;padding:1px 6px;font-size:11px;font-weight:700;color:#fff;margin-right:6px}
.CRITICAL{background:#c81e1e}.HIGH{background:#e8590c}.MEDIUM{background:#d69e2e}.LOW{background:#3182ce}.INFO{background:#718096}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:10px}
.kpi{flex:1;min-width:150px;background:#f0f4f8;border-radius:6px;padding:10px}
.kpi b{display:block;font-size:20px}.kpi span{font-size:12px;color:#52606d}
.up{color:#c81e1e}.down{color:#2f855a}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
ul{margin:6px 0 6px 18px;padding:0} li{margin:2px 0}
code{background:#edf2f7;border-radius:4px;padding:1px 5px;font-size:12px}
.ok{color:#2f855a}.partial{border-left:6px solid #d69e2e;background:#fffbea}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #e4e7eb;padding:4px 6px;text-align:left}
.save{color:#2f855a;font-weight:700}
"""


def _group(g: Group, short: bool) -> str:
    save = f' <span class="save">saves {money(g.monthly_saving)}/month</span>' if g.monthly_saving else ""
    head = f'<span class="sev {g.severity}">{g.severity}</span>{g.count} &times; {escape(g.title)}{save}'
    fix = f"<li>1-click: <code>{escape(g.fix_command)}</code></li>" if g.fix_command else ""
    if short:
        return f"<p>{head}</p>" + (f"<ul>{fix}</ul>" if fix else "")
    items = "".join(f"<li>{escape(d)}</li>" for d in group_details(g))
    return f"<details open><summary>{head}</summary><ul>{items}{fix}</ul></details>"


def _kpi(label: str, value: str, cls: str = "") -> str:
    return f'<div class="kpi"><b class="{cls}">{escape(value)}</b><span>{escape(label)}</span></div>'


def _section(report: MorningReport, name: str) -> str:
    short = report.format != "detailed"
    body = ""
    if name == "alerts":
        body = (
            "".join(
                f'<p><span class="sev {a.severity}">{a.severity}</span>{escape(a.title)}'
                + (f" &mdash; {escape(a.detail)}" if a.detail else "")
                + (f" <code>{escape(a.fix_command)}</code>" if a.fix_command else "")
                + "</p>"
                for a in report.alerts
            )
            or '<p class="ok">No critical alerts.</p>'
        )
    elif name == "cost":
        c = report.cost
        if c is None:
            body = "<p>No cost snapshot for this day.</p>"
        else:
            cls = "up" if c["day_delta"] > 0 else "down"
            body = '<div class="kpis">' + _kpi("yesterday", money(c["yesterday"]))
            body += _kpi("vs previous day", f"{c['day_delta']:+,.2f}", cls) + _kpi(
                "month to date", money(c["month_to_date"])
            )
            body += _kpi("budget", money(c.get("budget"))) + _kpi(
                "potential savings / month", money(report.savings_total), "down"
            )
            body += "</div><ul>" + "".join(f"<li>{escape(line)}</li>" for line in cost_lines(c)[1:]) + "</ul>"
            if not executive(report):
                body += "<p><b>Top cost drivers (yesterday)</b></p><ol>"
                body += "".join(f"<li>{escape(d)}</li>" for d in top_drivers(c)) + "</ol>"
    elif name == "changes":
        if executive(report):
            return ""
        rows = "".join(
            f"<tr><td>{c.kind}</td><td>{escape(c.resource_type)}</td><td><code>{escape(c.resource_id)}</code></td>"
            f"<td>{escape(c.detail)}</td><td>{escape(c.by)}</td><td>{c.monthly_cost_impact:+,.2f}</td></tr>"
            for c in report.changes
        )
        head = (
            "<tr><th>change</th><th>type</th><th>resource</th><th>what</th><th>by</th><th>$/month</th></tr>"
        )
        body = f"<table>{head}{rows}</table>" if rows else "<p>No changes since the previous scan.</p>"
    elif name == "security":
        if not executive(report):
            body = "".join(f'<p class="ok">&#10003; {escape(g)}</p>' for g in report.good_news)
        body += "".join(_group(g, short) for g in report.security) or "<p>No security findings.</p>"
    elif name == "optimization":
        body = f'<p class="save">Total: {money(report.savings_total)}/month</p>'
        body += "".join(_group(g, short) for g in report.optimization) or "<p>Nothing to optimize.</p>"
    elif name == "operational":
        body = "".join(f'<p class="ok">&#10003; {escape(h)}</p>' for h in report.health_ok)
        body += "".join(_group(g, short) for g in report.operational)
    elif name == "questions":
        if executive(report):
            return ""
        body = "<ul>" + "".join(f"<li>&ldquo;{escape(q)}&rdquo;</li>" for q in report.questions) + "</ul>"
    cls = ' class="alerts"' if name == "alerts" else ""
    return f"<section{cls}><h2>{escape(TITLES[name])}</h2>{body}</section>"


def html(report: MorningReport) -> str:
    partial = ""
    if report.partial:
        items = "".join(f"<li>{escape(p)}</li>" for p in report.partial)
        partial = f'<section class="partial"><h2>Partial scan</h2><p>These parts could not be read and are not counted as zero:</p><ul>{items}</ul></section>'
    sections = "".join(_section(report, s) for s in report.sections)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(headline(report))}</title>'
        f"<style>{_CSS}</style></head><body><main><header><h1>&#9728;&#65039; {escape(headline(report))}</h1>"
        f"<p>{escape(subtitle(report))}</p></header>{partial}{sections}</main></body></html>"
    )


def render(report: MorningReport, fmt: str) -> bytes:
    return html(report).encode()
