"""Evidence highlighting: a turn's text with the findings' spans wrapped in <mark>, all escaped."""

from __future__ import annotations

from markupsafe import Markup, escape


def _span(text: str, finding: dict):
    """The finding's [start, end) in ``text``: its span when it fits, else where its evidence is."""
    span = finding.get("span")
    if isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(x, int) for x in span):
        start, end = span
        if 0 <= start < end <= len(text):
            return start, end
    evidence = finding.get("evidence") or ""
    at = text.find(evidence) if evidence else -1
    return (at, at + len(evidence)) if at >= 0 else None


def highlight(text: str, findings) -> Markup:
    """``text`` escaped, with the evidence of every violation marked (overlaps merged). A
    ``missing`` finding points at the turn where something was due: nothing in it is wrong."""
    spans = sorted(s for f in findings if f.get("verdict") == "violation"
                   for s in [_span(text, f)] if s)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = [], 0
    for start, end in merged:
        out.append(escape(text[pos:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)
