"""PDF with fpdf2 (pure Python), laid out from the same :class:`~escher.report.render.content.Page` as the
HTML: the same headline, charts (the same SVG, drawn by fpdf2), sections and fixes.

Typography: every paragraph left-aligned (fpdf2's ``multi_cell`` justifies by default, which opened wide
gaps in long lines), 10 pt body on 1.45 leading, a heading never left alone at the foot of a page. The
questions go in a short box under the headline, where a reader of a printout meets them, so they never
spill onto a last page of their own.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from escher.lazy import require
from escher.report.model import MorningReport
from escher.report.render.charts import SEVERITY_COLOURS
from escher.report.render.content import Item, Page, Section, page

__all__ = ["render"]

_INK, _MUTED, _NAVY = (31, 41, 51), (82, 96, 109), (18, 53, 91)
_GOOD, _BAD, _AMBER = (47, 133, 90), (200, 30, 30), (151, 90, 22)
_TONE = {"bad": _BAD, "good": _GOOD, "neutral": _INK}
# A Unicode TrueType font when the system has one; else the PDF core font with text folded to Latin-1.
_FONTS = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    ("/Library/Fonts/Arial Unicode.ttf", "/Library/Fonts/Arial Unicode.ttf", "/Library/Fonts/Arial Unicode.ttf"),
)  # fmt: skip


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


class _Doc:
    LEAD = 1.45

    def __init__(self) -> None:
        fpdf = require("fpdf", "report")
        self.pdf = fpdf.FPDF(format="A4")
        pdf = self.pdf
        pdf.set_auto_page_break(auto=True, margin=16)
        pdf.set_margins(16, 16, 16)
        self.font, self.mono, self.unicode = "helvetica", "courier", False
        for regular, bold, mono in _FONTS:
            if Path(regular).exists():
                pdf.add_font("body", "", regular)
                pdf.add_font("body", "B", bold if Path(bold).exists() else regular)
                pdf.add_font("mono", "", mono if Path(mono).exists() else regular)
                self.font, self.mono, self.unicode = "body", "mono", True
                break
        pdf.add_page()

    def t(self, value: str) -> str:
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def para(
        self,
        value: str,
        size: float = 10,
        *,
        bold: bool = False,
        rgb: tuple[int, int, int] = _INK,
        indent: float = 0,
        mono: bool = False,
    ) -> None:
        pdf = self.pdf
        pdf.set_font(self.mono if mono else self.font, "B" if bold and not mono else "", size)
        pdf.set_text_color(*rgb)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(
            pdf.epw - indent,
            size * 0.3528 * self.LEAD,
            self.t(value),
            align="L",
            new_x="LMARGIN",
            new_y="NEXT",
        )

    def heading(self, value: str) -> None:
        pdf = self.pdf
        if pdf.will_page_break(28):  # keep a heading with at least a few lines of its section
            pdf.add_page()
        pdf.ln(4)
        self.para(value, 13, bold=True, rgb=_NAVY)
        pdf.set_draw_color(210, 214, 220)
        pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.l_margin + pdf.epw, pdf.get_y() + 0.5)
        pdf.ln(2.5)

    def tag(self, severity: str) -> None:
        pdf = self.pdf
        pdf.set_font(self.font, "B", 7.5)
        pdf.set_fill_color(*_rgb(SEVERITY_COLOURS.get(severity, "#718096")))
        pdf.set_text_color(255, 255, 255)
        pdf.cell(19, 5, severity, fill=True, align="C")
        pdf.set_x(pdf.get_x() + 2)


def _header(doc: _Doc, p: Page) -> None:
    pdf = doc.pdf
    pdf.set_fill_color(*_NAVY)
    pdf.rect(0, 0, pdf.w, 27, style="F")
    pdf.set_y(7)
    doc.para(p.title, 17, bold=True, rgb=(255, 255, 255))
    doc.para(p.subtitle, 8, rgb=(220, 228, 240))
    pdf.set_y(32)
    # the headline: three figures, then what changed
    box = (pdf.epw - 8) / 3
    figures = ((str(p.critical), "critical", _BAD), (str(p.high), "high", (232, 89, 12)),
               (p.at_stake, "a month at stake (savings identified)", _INK))  # fmt: skip
    y = pdf.get_y()
    for i, (value, label, rgb) in enumerate(figures):
        x = pdf.l_margin + i * (box + 4)
        pdf.set_fill_color(240, 244, 248)
        pdf.rect(x, y, box, 17, style="F")
        pdf.set_xy(x + 3, y + 2)
        pdf.set_font(doc.font, "B", 16)
        pdf.set_text_color(*rgb)
        pdf.cell(box - 6, 7, doc.t(value))
        pdf.set_xy(x + 3, y + 10)
        pdf.set_font(doc.font, "", 8)
        pdf.set_text_color(*_MUTED)
        pdf.cell(box - 6, 5, doc.t(label))
    pdf.set_y(y + 20)
    doc.para(p.changed[:1].upper() + p.changed[1:] + ".", 10, rgb=_MUTED)


def _notes(doc: _Doc, p: Page) -> None:
    if not p.notes:
        return
    doc.pdf.ln(2)
    doc.para("Not everything here is from the latest scan", 10, bold=True, rgb=_AMBER)
    for note in p.notes:
        doc.para(note, 9, rgb=_AMBER, indent=3)


def _questions(doc: _Doc, p: Page) -> None:
    if not p.questions:
        return
    doc.pdf.ln(2)
    doc.para(
        "Ask Escher (escher ask / escher chat): " + "  ".join(f'"{q}"' for q in p.questions), 8.5, rgb=_MUTED
    )


def _charts(doc: _Doc, p: Page) -> None:
    if not p.charts:
        return
    pdf = doc.pdf
    pdf.ln(3)
    w = (pdf.epw - 6) / 2
    h = w * 180 / 420
    if pdf.will_page_break(h + 12):
        pdf.add_page()
    y = pdf.get_y()
    for i, chart in enumerate(p.charts[:2]):
        x = pdf.l_margin + i * (w + 6)
        pdf.set_xy(x, y)
        pdf.set_font(doc.font, "B", 9.5)
        pdf.set_text_color(*_INK)
        pdf.cell(w, 5, doc.t(chart.title))
        pdf.image(io.BytesIO(chart.svg.encode()), x=x, y=y + 6, w=w)
    pdf.set_y(y + 6 + h + 1)


def _item(doc: _Doc, it: Item) -> None:
    pdf = doc.pdf
    if pdf.will_page_break(14):
        pdf.add_page()
    pdf.set_x(pdf.l_margin)
    doc.tag(it.severity)
    pdf.set_font(doc.font, "B", 10)
    pdf.set_text_color(*_INK)
    title = it.title + (f"  ({it.saving})" if it.saving else "")
    pdf.multi_cell(pdf.epw - 21, 5, doc.t(title), align="L", new_x="LMARGIN", new_y="NEXT")
    if it.as_of:
        doc.para(f"as of the scan of {it.as_of}", 8.5, rgb=_AMBER, indent=21)
    for d in it.details:
        doc.para(d, 8.5, rgb=_MUTED, indent=21)
    if it.fix:
        pdf.set_fill_color(237, 242, 247)
        pdf.set_x(pdf.l_margin + 21)
        pdf.set_font(doc.mono, "", 8.5)
        pdf.set_text_color(*_NAVY)
        pdf.multi_cell(
            pdf.epw - 21, 5, doc.t("$ " + it.fix), align="L", fill=True, new_x="LMARGIN", new_y="NEXT"
        )
    pdf.ln(1.5)


def _table(doc: _Doc, sec: Section) -> None:
    pdf = doc.pdf
    pdf.set_font(doc.font, "", 8.5)
    pdf.set_text_color(*_INK)
    numeric = [i > 0 and h.startswith(("$", "amount", "vs")) for i, h in enumerate(sec.table_head)]
    widths = (
        (6, 9, 9, 10, 6, 5)
        if len(sec.table_head) == 6
        else tuple(3 if i == 0 else 1 for i in range(len(sec.table_head)))
    )
    align = tuple("RIGHT" if n else "LEFT" for n in numeric)
    pdf.ln(1)
    with pdf.table(
        col_widths=widths,
        text_align=align,
        line_height=4.6,
        borders_layout="HORIZONTAL_LINES",
        first_row_as_headings=True,
        headings_style=_headings(doc),
    ) as table:
        for row in [sec.table_head, *sec.table]:
            r = table.row()
            for cell in row:
                r.cell(doc.t(cell))


def _headings(doc: _Doc) -> Any:
    fpdf = require("fpdf", "report")
    return fpdf.FontFace(emphasis="BOLD", color=_NAVY)


def _section(doc: _Doc, sec: Section) -> None:
    pdf = doc.pdf
    doc.heading(sec.title)
    if sec.kpis:
        w = (pdf.epw - 3 * (len(sec.kpis) - 1)) / len(sec.kpis)
        y = pdf.get_y()
        for i, k in enumerate(sec.kpis):
            x = pdf.l_margin + i * (w + 3)
            pdf.set_fill_color(240, 244, 248)
            pdf.rect(x, y, w, 14, style="F")
            pdf.set_xy(x + 2, y + 1.5)
            pdf.set_font(doc.font, "B", 11.5)
            pdf.set_text_color(*_TONE.get(k.tone, _INK))
            pdf.cell(w - 4, 6, doc.t(k.value))
            pdf.set_xy(x + 2, y + 8)
            pdf.set_font(doc.font, "", 7.5)
            pdf.set_text_color(*_MUTED)
            pdf.cell(w - 4, 4, doc.t(k.label))
        pdf.set_y(y + 16)
    for line in sec.lines:
        doc.para(line)
    for line in sec.ok:
        doc.para("\u2713 " + line if doc.unicode else "OK: " + line, 9.5, rgb=_GOOD)
    if sec.total:
        doc.para(sec.total, 10, bold=True, rgb=_GOOD)
    if sec.items:
        pdf.ln(1)
    for it in sec.items:
        _item(doc, it)
    if sec.table:
        _table(doc, sec)


def render(report: MorningReport, fmt: str) -> bytes:
    p = page(report)
    doc = _Doc()
    _header(doc, p)
    _notes(doc, p)
    _questions(doc, p)
    _charts(doc, p)
    for sec in p.sections:
        _section(doc, sec)
    out: Any = doc.pdf.output()
    return bytes(out)
