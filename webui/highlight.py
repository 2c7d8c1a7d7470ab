"""The report's transcript: each turn with its findings, evidence marked from the finding's span.

The marked text is built from escaped pieces (``markupsafe.escape``) joined by literal ``<mark>``
tags, so nothing the trainee or the caller typed can become markup.
"""

from __future__ import annotations

from markupsafe import Markup, escape


def _span(text: str, f: dict) -> tuple[int, int] | None:
    span = f.get("span")
    if (isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(x, int) for x in span)
            and 0 <= span[0] < span[1] <= len(text)):
        return span[0], span[1]
    evidence = f.get("evidence") or ""
    at = text.find(evidence) if evidence else -1
    return (at, at + len(evidence)) if at >= 0 else None


def _merge(spans):
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def mark(text: str, spans) -> Markup:
    """``text`` escaped, with each (start, end) span wrapped in <mark>."""
    out, pos = [], 0
    for a, b in _merge(spans):
        out += [escape(text[pos:a]), Markup("<mark>"), escape(text[a:b]), Markup("</mark>")]
        pos = b
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def report_turns(turns: list[dict], findings: list[dict]) -> list[dict]:
    """Turns with ``html`` (the evidence of violations marked) and the findings about each turn."""
    by_turn: dict[int, list] = {}
    for f in findings:
        if f.get("turn") is not None:
            by_turn.setdefault(f["turn"], []).append(f)
    out = []
    for t in turns:
        fs = by_turn.get(t["idx"], [])
        marked = [s for f in fs if f["verdict"] == "violation" and (s := _span(t["text"], f))]
        out.append(dict(t, html=mark(t["text"], marked), findings=fs))
    return out
