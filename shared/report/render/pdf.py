"""PDF with fpdf2 (pure Python): a printable one-column report with coloured severity tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from escher.lazy import require
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

_SEV_RGB = {
    "CRITICAL": (200, 30, 30),
    "HIGH": (232, 89, 12),
    "MEDIUM": (214, 158, 46),
    "LOW": (49, 130, 206),
    "INFO": (113, 128, 150),
}
_NAVY = (18, 53, 91)
# A Unicode TrueType font when the system has one; else the PDF core font with text folded to Latin-1.
_FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/Library/Fonts/Arial Unicode.ttf")


class _Doc:
    def __init__(self) -> None:
        fpdf = require("fpdf", "report")
        self.pdf = fpdf.FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_margins(15, 15, 15)
        self.font = "helvetica"
        self.unicode = False
        for path in _FONT_CANDIDATES:
            if Path(path).exists():
                bold = path.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
                self.pdf.add_font("body", "", path)
                self.pdf.add_font("body", "B", bold if Path(bold).exists() else path)
                self.font, self.unicode = "body", True
                break
        self.pdf.add_page()

    def text(self, value: str) -> str:
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def line(
        self,
        value: str,
        size: float = 10,
        bold: bool = False,
        rgb: tuple[int, int, int] = (31, 41, 51),
        indent: float = 0,
    ) -> None:
        self.pdf.set_font(self.font, "B" if bold else "", size)
        self.pdf.set_text_color(*rgb)
        self.pdf.set_x(self.pdf.l_margin + indent)
        self.pdf.multi_cell(
            self.pdf.epw - indent, size * 0.5, self.text(value), new_x="LMARGIN", new_y="NEXT"
        )

    def tag(self, severity: str, value: str) -> None:
        pdf = self.pdf
        pdf.set_font(self.font, "B", 8)
        pdf.set_fill_color(*_SEV_RGB.get(severity, (113, 128, 150)))
        pdf.set_text_color(255, 255, 255)
        pdf.cell(20, 5, severity, fill=True, align="C")
        pdf.set_text_color(31, 41, 51)
        pdf.set_font(self.font, "B", 10)
        pdf.multi_cell(pdf.epw - 22, 5, " " + self.text(value), new_x="LMARGIN", new_y="NEXT")

    def heading(self, value: str) -> None:
        pdf = self.pdf
        pdf.ln(3)
        self.line(value, 13, bold=True, rgb=_NAVY)
        pdf.set_draw_color(200, 205, 212)
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.l_margin + pdf.epw, pdf.get_y() + 1)
        pdf.ln(3)


def _group(doc: _Doc, g: Group, short: bool) -> None:
    saving = f" - saves {money(g.monthly_saving)}/month" if g.monthly_saving else ""
    doc.tag(g.severity, f"{g.count} x {g.title}{saving}")
    if not short:
        for d in group_details(g):
            doc.line(f"- {d}", 9, indent=6)
    if g.fix_command:
        doc.line(f"1-click: {g.fix_command}", 9, rgb=_NAVY, indent=6)
    doc.pdf.ln(1)


def render(report: MorningReport, fmt: str) -> bytes:
    doc = _Doc()
    pdf = doc.pdf
    pdf.set_fill_color(*_NAVY)
    pdf.rect(0, 0, pdf.w, 28, style="F")
    pdf.set_y(8)
    doc.line(headline(report), 18, bold=True, rgb=(255, 255, 255))
    doc.line(subtitle(report), 8, rgb=(220, 228, 240))
    pdf.set_y(32)
    short = report.format != "detailed"
    if report.partial:
        doc.heading("Partial scan - not counted as zero")
        for p in report.partial:
            doc.line(f"- {p}", 9, rgb=(180, 120, 0))
    for section in report.sections:
        if executive(report) and section in ("changes", "questions"):
            continue
        doc.heading(TITLES[section])
        _section(doc, report, section, short)
    out: Any = pdf.output()
    return bytes(out)


def _section(doc: _Doc, report: MorningReport, section: str, short: bool) -> None:
    if section == "alerts":
        for a in report.alerts:
            doc.tag(a.severity, a.title)
            if a.detail:
                doc.line(a.detail, 9, indent=22)
            if a.fix_command:
                doc.line(f"1-click: {a.fix_command}", 9, rgb=_NAVY, indent=22)
        if not report.alerts:
            doc.line("No critical alerts.", rgb=(47, 133, 90))
    elif section == "cost":
        if report.cost is None:
            doc.line("No cost snapshot for this day.")
            return
        for i, text in enumerate(cost_lines(report.cost)):
            doc.line(text, 11 if i == 0 else 10, bold=i == 0)
        if not executive(report):
            doc.line("Top cost drivers (yesterday):", bold=True)
            for n, d in enumerate(top_drivers(report.cost), 1):
                doc.line(f"{n}. {d}", 9, indent=4)
        doc.line(
            f"Potential savings identified: {money(report.savings_total)}/month", bold=True, rgb=(47, 133, 90)
        )
    elif section == "changes":
        for c in report.changes:
            impact = f" | {c.monthly_cost_impact:+,.2f} $/month" if c.monthly_cost_impact else ""
            by = f" by {c.by}" if c.by else ""
            doc.line(f"{c.kind}: {c.resource_type} {c.resource_id} {c.detail}{by}{impact}", 9)
        if not report.changes:
            doc.line("No changes since the previous scan.")
    elif section in ("security", "optimization", "operational"):
        if section == "security" and not executive(report):
            for news in report.good_news:
                doc.line(f"OK: {news}", 9, rgb=(47, 133, 90))
        if section == "optimization":
            doc.line(f"Total: {money(report.savings_total)}/month", bold=True, rgb=(47, 133, 90))
        if section == "operational":
            for h in report.health_ok:
                doc.line(f"OK: {h}", 9, rgb=(47, 133, 90))
        groups: list[Group] = getattr(report, section)
        for group in groups:
            _group(doc, group, short)
    elif section == "questions":
        for q in report.questions:
            doc.line(f'"{q}"', 9)
