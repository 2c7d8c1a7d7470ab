"""Server-side SVG charts (no JavaScript, no CDN: nothing outside is reachable from the floor).

Every label goes through ``escape``; the result is ``Markup`` so templates embed it as is.
"""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 640
BAR_H = 22
COLORS = ("#2f6fb0", "#d9822b", "#3a9a5b", "#b0413e", "#7a5ab5", "#5c6b73")


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def hbar(rows: list[tuple[str, float]], *, max_value: float | None = None, unit: str = "",
         title: str = "") -> Markup:
    """Horizontal bars, one per (label, value); empty rows give a short '暂无数据' note."""
    if not rows:
        return Markup('<p class="chart-empty">暂无数据</p>')
    top = max_value or max((v for _, v in rows), default=1) or 1
    label_w, bar_w = 180, WIDTH - 180 - 70
    height = BAR_H * len(rows) + 10
    out = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(rows):
        y = 5 + i * BAR_H
        w = max(0.0, min(1.0, value / top)) * bar_w
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="13">'
                   f"{escape(label)}</text>")
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{BAR_H - 6}" fill="#eef1f5"/>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{BAR_H - 6}" '
                   f'fill="{COLORS[0]}"><title>{escape(label)}: {_num(value)}{escape(unit)}</title></rect>')
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">'
                   f"{_num(value)}{escape(unit)}</text>")
    out.append("</svg>")
    return Markup("".join(out))


def lines(xs: list[str], series: dict[str, list[float | None]], *, max_value: float = 100,
          title: str = "") -> Markup:
    """A line chart: one x label per point (e.g. a week), one polyline per series; None = no data."""
    if not xs or not series:
        return Markup('<p class="chart-empty">暂无数据</p>')
    height, left, right, top, bottom = 260, 40, 150, 10, 40
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = plot_w / max(1, len(xs) - 1)

    def y_of(v: float) -> float:
        return top + plot_h - max(0.0, min(1.0, v / (max_value or 1))) * plot_h

    out = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>"]
    for frac in (0, 0.5, 1):
        y = y_of(max_value * frac)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                   f"{_num(max_value * frac)}</text>")
    for i, x in enumerate(xs):
        out.append(f'<text x="{left + i * step:.1f}" y="{height - 18}" text-anchor="middle" '
                   f'font-size="11">{escape(x)}</text>')
    for n, (name, values) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        pts = [(left + i * step, y_of(v)) for i, v in enumerate(values) if v is not None]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        for (x, y), v in zip(pts, [v for v in values if v is not None]):
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                       f"<title>{escape(name)}: {_num(v)}</title></circle>")
        ly = top + 14 + n * 18
        out.append(f'<rect x="{WIDTH - right + 10}" y="{ly - 10}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{WIDTH - right + 26}" y="{ly}" font-size="12">{escape(name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
