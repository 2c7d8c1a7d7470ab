"""Small inline SVG charts drawn on the server: no chart library, nothing fetched from outside.

Every label goes through ``escape``; numbers are formatted by us. Colours are SVG attributes,
not inline styles, so the strict Content-Security-Policy allows them.
"""

from __future__ import annotations

from markupsafe import Markup, escape

COLORS = ("#1f6feb", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#0a7ea4")


def _n(x: float) -> str:
    return f"{x:.1f}"


def dimension_bars(dims: dict, width: int = 420) -> Markup:
    """One horizontal bar per dimension: score out of max."""
    if not dims:
        return Markup("")
    row, label_w, bar_w = 26, 60, width - 150
    parts = [f'<svg class="chart" role="img" aria-label="各维度得分" width="{width}" '
             f'height="{row * len(dims) + 6}" viewBox="0 0 {width} {row * len(dims) + 6}">']
    for i, (name, d) in enumerate(dims.items()):
        score, top = float(d.get("score") or 0), float(d.get("max") or 0)
        frac = max(0.0, min(1.0, score / top)) if top else 0.0
        y = i * row + 4
        color = COLORS[2] if frac >= 0.8 else COLORS[3] if frac >= 0.6 else COLORS[1]
        parts.append(f'<text x="0" y="{y + 14}">{escape(name)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="16" fill="#eef1f5" rx="3"/>'
                     f'<rect x="{label_w}" y="{y}" width="{_n(bar_w * frac)}" height="16" fill="{color}" rx="3"/>'
                     f'<text x="{label_w + bar_w + 8}" y="{y + 14}">{_n(score)} / {_n(top)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _frame(width, height, pad, label):
    return [f'<svg class="chart" role="img" aria-label="{escape(label)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">',
            *(f'<line x1="{pad}" x2="{width - 10}" y1="{_n(_y(v, height, pad))}" y2="{_n(_y(v, height, pad))}" '
              f'stroke="#e5e8ee"/><text x="4" y="{_n(_y(v, height, pad) + 4)}">{v}</text>'
              for v in (0, 50, 100))]


def _y(value: float, height: int, pad: int) -> float:
    return height - pad - (height - 2 * pad) * max(0.0, min(100.0, value)) / 100.0


def _x(i: int, count: int, width: int, pad: int) -> float:
    return pad + (width - pad - 20) * (i / (count - 1) if count > 1 else 0.5)


def score_line(sessions: list[dict], pass_mark: float | None = None, width=640, height=220) -> Markup:
    """The total score of each ended call, oldest first, with the pass mark as a dashed line."""
    if not sessions:
        return Markup("")
    pad = 30
    parts = _frame(width, height, pad, "得分走势")
    if pass_mark is not None:
        y = _n(_y(pass_mark, height, pad))
        parts.append(f'<line x1="{pad}" x2="{width - 10}" y1="{y}" y2="{y}" stroke="#cf222e" '
                     f'stroke-dasharray="4 4"/><text x="{width - 60}" y="{float(y) - 4:.1f}">合格 {pass_mark:g}</text>')
    points = [(_x(i, len(sessions), width, pad), _y(float(s["score"]), height, pad))
              for i, s in enumerate(sessions)]
    parts.append(f'<polyline fill="none" stroke="{COLORS[0]}" stroke-width="2" '
                 f'points="{" ".join(f"{_n(x)},{_n(y)}" for x, y in points)}"/>')
    for (x, y), s in zip(points, sessions):
        parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3.5" fill="{COLORS[0]}">'
                     f'<title>{escape(s.get("title") or "")} {escape(s.get("started") or "")}：'
                     f'{float(s["score"]):g} 分</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def dimension_lines(history: list[dict], width=640, height=220) -> Markup:
    """Each dimension's percentage per ended call, one coloured line each, with a legend."""
    names = sorted({name for h in history for name in h["dims"]})
    if not history or not names:
        return Markup("")
    pad = 30
    parts = _frame(width, height + 24, pad, "各维度走势")
    for k, name in enumerate(names):
        color = COLORS[k % len(COLORS)]
        pts = [(_x(i, len(history), width, pad), _y(h["dims"][name], height + 24, pad))
               for i, h in enumerate(history) if name in h["dims"]]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                     f'points="{" ".join(f"{_n(x)},{_n(y)}" for x, y in pts)}"/>')
        parts += [f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="{color}"/>' for x, y in pts]
        lx = pad + k * 90
        parts.append(f'<rect x="{lx}" y="4" width="12" height="12" fill="{color}"/>'
                     f'<text x="{lx + 16}" y="14">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
