"""Team overview numbers for supervisors: pass rate and dimension averages, broken rules, trends.

Computed from finished, scored sessions that match the same filters as the sessions table.
Interrupted calls are left out (their score judges only part of a call); they are counted apart.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

from .review import LATEST_OVERRIDE, _where


def _pct(part, whole):
    return round(100.0 * part / whole, 1) if whole else 0.0


def _group(rows, key) -> list[dict]:
    """Per ``key``: sessions, pass rate, average score, average % per dimension."""
    acc = defaultdict(lambda: {"n": 0, "passed": 0, "score": 0.0, "dims": defaultdict(list)})
    for r in rows:
        a = acc[r[key]]
        a["n"] += 1
        a["passed"] += 1 if r["passed"] else 0
        a["score"] += r["score"] or 0
        for name, d in (r["dimensions"] or {}).items():
            if isinstance(d, dict) and d.get("max"):
                a["dims"][name].append(100.0 * (d.get("score") or 0) / d["max"])
    out = []
    for name, a in sorted(acc.items(), key=lambda kv: str(kv[0])):
        out.append({"name": name, "sessions": a["n"], "pass_rate": _pct(a["passed"], a["n"]),
                    "avg_score": round(a["score"] / a["n"], 1),
                    "dimensions": {k: round(sum(v) / len(v), 1) for k, v in a["dims"].items()}})
    return out


def _week(iso: str, local_date=None) -> str:
    """ISO week of a start time; ``local_date(iso) -> date`` places it in the display zone."""
    d = local_date(iso) if local_date else date.fromisoformat(iso[:10])
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def overview(store, f: dict) -> dict:
    """All overview numbers for the filtered sessions (only those with a score)."""
    where, params = _where(f)
    rows = store.rows(
        f"""SELECT s.id, s.started, s.score, s.passed, s.persona_id, s.report_json,
                   u.name AS trainee
            FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE {where} AND s.status = 'ended' AND s.score IS NOT NULL ORDER BY s.started_ts""", params)
    for r in rows:
        try:
            report = json.loads(r["report_json"] or "{}") or {}
            r["dimensions"] = (report.get("revised") or report).get("dimensions") or {}
        except ValueError:
            r["dimensions"] = {}
    dims = sorted({d for r in rows for d in r["dimensions"]})
    weeks = defaultdict(list)
    for r in rows:
        weeks[_week(r["started"], f.get("local_date"))].append(r)
    trend = [{"week": w, "sessions": len(rs), "avg_score": round(sum(x["score"] for x in rs) / len(rs), 1),
              "pass_rate": _pct(sum(1 for x in rs if x["passed"]), len(rs))}
             for w, rs in sorted(weeks.items())]
    broken = store.rows(
        f"""SELECT f.rule, COUNT(*) AS times, COUNT(DISTINCT f.session_id) AS sessions
            FROM findings f WHERE f.session_id IN (
                SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE {where} AND s.status = 'ended' AND s.score IS NOT NULL)
              AND f.verdict IN ('violation', 'missing')
              AND COALESCE({LATEST_OVERRIDE}, '') != 'dismissed'
            GROUP BY f.rule ORDER BY times DESC, f.rule LIMIT 15""", params)
    titles = {r["persona_id"]: r["title"] for r in store.rows(
        "SELECT persona_id, title FROM personas p WHERE version = "
        "(SELECT MAX(version) FROM personas q WHERE q.persona_id = p.persona_id)")}
    interrupted = store.one(
        f"""SELECT COUNT(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE {where} AND s.status = 'interrupted'""", params)["n"]
    by_persona = _group(rows, "persona_id")
    for row in by_persona:
        row["title"] = titles.get(row["name"], row["name"])
    return {"sessions": len(rows), "pass_rate": _pct(sum(1 for r in rows if r["passed"]), len(rows)),
            "avg_score": round(sum(r["score"] for r in rows) / len(rows), 1) if rows else None,
            "interrupted": interrupted, "dimensions": dims, "by_trainee": _group(rows, "trainee"),
            "by_persona": by_persona, "broken_rules": broken, "trend": trend}
