"""Points from findings: each dimension starts full and loses points per violation/missing."""

from __future__ import annotations

COUNTING = ("violation", "missing")


def _num(x: float):
    x = round(x, 1)
    return int(x) if x == int(x) else x


def effective(finding: dict) -> tuple[str, str]:
    """(verdict, severity) after a supervisor's override, if any."""
    ov = finding.get("override") or {}
    return ov.get("verdict", finding.get("verdict")), ov.get("severity", finding.get("severity"))


def score_findings(findings, book) -> dict:
    """{"score", "passed", "auto_fail", "dimensions"} for these findings under the book's settings."""
    left = {d: float(v) for d, v in book.dimensions.items()}
    auto_fail = False
    for f in findings:
        verdict, severity = effective(f)
        dim = f.get("dimension")
        if verdict not in COUNTING or dim not in left:
            continue
        if severity in book.auto_fail:
            auto_fail = True
        cost = book.deductions.get(severity, 0)
        if cost == "all" or (severity in book.auto_fail and severity not in book.deductions):
            left[dim] = 0.0
        else:
            left[dim] = max(0.0, left[dim] - float(cost))
    score = round(sum(left.values()), 1)
    return {"score": _num(score), "passed": (not auto_fail) and score >= book.pass_mark, "auto_fail": auto_fail,
            "dimensions": {d: {"score": _num(v), "max": _num(book.dimensions[d])} for d, v in left.items()}}


def rescore(findings, book) -> dict:
    """Score again after overrides: "dismissed" findings stop counting, "violation"/"missing" start."""
    return score_findings(findings, book)
