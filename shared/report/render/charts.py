"""Charts as inline SVG, drawn here from the numbers: the report fetches nothing (no script, no CDN), so it
reads the same offline, in an email client or printed. The PDF embeds the same SVG (fpdf2 draws it)."""

from __future__ import annotations

from html import escape

__all__ = ["SEVERITY_COLOURS", "severity_mix", "trend"]

SEVERITY_COLOURS = {
    "CRITICAL": "#c81e1e",
    "HIGH": "#e8590c",
    "MEDIUM": "#b7791f",
    "LOW": "#3182ce",
    "INFO": "#718096",
}
_INK, _GRID, _LINE = "#1f2933", "#d9dee4", "#12355b"
_FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _money(v: float) -> str:
    return f"${v:,.0f}"


def trend(points: list[tuple[str, float]], width: int = 420, height: int = 180) -> str:
    """Daily spend as a line over its area, with the lowest, highest and last values named."""
    left, right, top, bottom = 56, 12, 14, 28
    w, h = width - left - right, height - top - bottom
    values = [v for _, v in points]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or max(hi * 0.05, 1.0)
    lo, hi = max(0.0, lo - pad), hi + pad
    step = w / max(len(points) - 1, 1)

    def y(v: float) -> float:
        return top + h - (v - lo) / (hi - lo) * h

    xy = [(left + i * step, y(v)) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in xy)
    area = f"{left:.1f},{top + h:.1f} {line} {xy[-1][0]:.1f},{top + h:.1f}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="daily spend">'
    ]
    for v in (lo, (lo + hi) / 2, hi):
        yy = y(v)
        out.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{left + w}" y2="{yy:.1f}" stroke="{_GRID}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" fill="{_INK}" {_FONT}>'
            f"{_money(v)}</text>"
        )
    out.append(f'<polygon points="{area}" fill="#dbe7f3" stroke="none"/>')
    out.append(f'<polyline points="{line}" fill="none" stroke="{_LINE}" stroke-width="2"/>')
    lx, ly = xy[-1]
    out.append(f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="3.5" fill="{_LINE}"/>')
    for i, anchor in ((0, "start"), (len(points) - 1, "end")):
        out.append(
            f'<text x="{xy[i][0]:.1f}" y="{height - 8}" text-anchor="{anchor}" font-size="11" fill="{_INK}" '
            f"{_FONT}>{escape(points[i][0])}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def severity_mix(counts: list[tuple[str, int]], width: int = 420, height: int = 180) -> str:
    """One horizontal bar per severity, its count at the end of the bar."""
    left, right, top = 76, 44, 10
    rows = len(counts) or 1
    band = (height - top * 2) / rows
    most = max((n for _, n in counts), default=0) or 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="findings by severity">'
    ]
    for i, (sev, n) in enumerate(counts):
        y0 = top + i * band
        bar = (width - left - right) * n / most
        colour = SEVERITY_COLOURS.get(sev, _GRID)
        out.append(
            f'<text x="{left - 8}" y="{y0 + band / 2 + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_INK}" {_FONT}>{escape(sev)}</text>'
        )
        if n:
            out.append(
                f'<rect x="{left}" y="{y0 + band * 0.18:.1f}" width="{bar:.1f}" height="{band * 0.64:.1f}" '
                f'rx="2" fill="{colour}"/>'
            )
        out.append(
            f'<text x="{left + bar + 6:.1f}" y="{y0 + band / 2 + 4:.1f}" font-size="11" fill="{_INK}" '
            f"{_FONT}>{n:,}</text>"
        )
    out.append("</svg>")
    return "".join(out)
