"""Supervisor queries: filtered session lists, one session for review, overrides, comments, stats.

All SQL for the supervisor pages lives here. Filters arrive as plain strings from a query string;
every value goes in as a parameter and sort columns come from a whitelist.
"""

from __future__ import annotations

import json
import re
from datetime import date

from .core import now_iso

SORTS = {"started": "s.started_ts", "score": "s.score", "trainee": "u.name",
         "persona": "s.persona_id", "mode": "s.mode", "group": "u.group_name"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
VERDICTS = ("dismissed", "violation")  # what rescore() honours
# the latest override of each finding decides (older ones stay as history)
LATEST_OVERRIDE = """(SELECT o.verdict FROM overrides o WHERE o.finding_id = f.id
                      ORDER BY o.id DESC LIMIT 1)"""


def _float(v):
    try:
        return float(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _is_date(v: str) -> bool:
    try:
        date.fromisoformat(v)
        return True
    except ValueError:
        return False


def _utc_day_start(day: str) -> str:
    return f"{day}T00:00:00Z"


def _next_day(day: str) -> str:
    return date.fromordinal(date.fromisoformat(day).toordinal() + 1).isoformat()


def clean_filters(args) -> dict:
    """Keep only well-formed filter values from a query-string mapping (bad ones are dropped)."""
    f = {}
    for key in ("trainee", "group", "persona", "rule", "mode"):
        v = (args.get(key) or "").strip()
        if v:
            f[key] = v[:100]
    for key in ("date_from", "date_to"):
        v = (args.get(key) or "").strip()
        if DATE.match(v) and _is_date(v):
            f[key] = v
    if args.get("result") in ("pass", "fail"):
        f["result"] = args["result"]
    for key in ("score_min", "score_max"):
        v = _float(args.get(key))
        if v is not None:
            f[key] = v
    sort = args.get("sort")
    f["sort"] = sort if sort in SORTS else "started"
    f["dir"] = "asc" if args.get("dir") == "asc" else "desc"
    return f


def _where(f: dict) -> tuple[str, list]:
    where, params = ["s.status != 'active'"], []
    if "trainee" in f:
        where.append("u.name = ?")
        params.append(f["trainee"])
    if "group" in f:
        where.append("u.group_name = ?")
        params.append(f["group"])
    if "persona" in f:
        where.append("s.persona_id = ?")
        params.append(f["persona"])
    if "mode" in f:
        where.append("s.mode = ?")
        params.append(f["mode"])
    if "date_from" in f:  # local days when the caller gave bounds (f["day_start"]), else UTC days
        where.append("s.started >= ?")
        params.append(f.get("day_start", _utc_day_start)(f["date_from"]))
    if "date_to" in f:
        where.append("s.started < ?")
        params.append(f.get("day_start", _utc_day_start)(_next_day(f["date_to"])))
    if f.get("result") == "pass":
        where.append("s.passed = 1")
    elif f.get("result") == "fail":
        where.append("s.passed = 0")
    if "score_min" in f:
        where.append("s.score >= ?")
        params.append(f["score_min"])
    if "score_max" in f:
        where.append("s.score <= ?")
        params.append(f["score_max"])
    if "rule" in f:
        where.append(f"""EXISTS (SELECT 1 FROM findings f WHERE f.session_id = s.id AND f.rule = ?
                         AND f.verdict IN ('violation', 'missing')
                         AND COALESCE({LATEST_OVERRIDE}, '') != 'dismissed')""")
        params.append(f["rule"])
    return " AND ".join(where), params


def count_sessions(store, f: dict) -> int:
    """How many finished sessions match the filters (the pager's total)."""
    where, params = _where(f)
    return store.one(f"SELECT COUNT(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id "
                     f"WHERE {where}", params)["n"]


def find_sessions(store, f: dict, limit: int | None = 500, offset: int = 0) -> list[dict]:
    """Finished sessions matching the filters, sorted by a whitelisted column; ``limit=None``: all.

    ``s.id`` breaks ties, so pages of the same sort never overlap or skip a row.
    """
    where, params = _where(f)
    order = SORTS[f.get("sort", "started")]
    direction = "ASC" if f.get("dir") == "asc" else "DESC"
    sql = f"""SELECT s.id, s.started, s.ended, s.mode, s.status, s.end_reason, s.score, s.passed,
                     s.auto_fail, s.persona_id, s.persona_version, s.assignment_id,
                     u.name AS trainee, u.group_name, p.title AS persona_title,
                     (SELECT COUNT(*) FROM findings f WHERE f.session_id = s.id
                        AND f.verdict IN ('violation', 'missing')
                        AND COALESCE({LATEST_OVERRIDE}, '') != 'dismissed') AS problems
              FROM sessions s JOIN users u ON u.id = s.user_id
              LEFT JOIN personas p ON p.persona_id = s.persona_id AND p.version = s.persona_version
              WHERE {where} ORDER BY {order} {direction} NULLS LAST, s.id LIMIT ? OFFSET ?"""
    return store.rows(sql, params + [-1 if limit is None else int(limit), max(0, int(offset))])


def filtered_findings(store, f: dict) -> list[dict]:
    """Findings of every call matching the filters, with trainee, persona and latest override."""
    where, params = _where(f)
    return store.rows(
        f"""SELECT f.*, u.name AS trainee, s.persona_id, o.verdict AS override_verdict,
                   o.comment AS override_comment, o.at AS override_at, ou.name AS override_by
            FROM findings f JOIN sessions s ON s.id = f.session_id JOIN users u ON u.id = s.user_id
            LEFT JOIN overrides o ON o.id = (SELECT MAX(id) FROM overrides WHERE finding_id = f.id)
            LEFT JOIN users ou ON ou.id = o.by
            WHERE {where} ORDER BY s.started_ts, f.session_id, f.turn, f.id""", params)


def filter_options(store) -> dict:
    """Values for the filter drop-downs."""
    return {
        "trainees": [r["name"] for r in store.rows(
            "SELECT DISTINCT u.name FROM sessions s JOIN users u ON u.id = s.user_id ORDER BY u.name")],
        "groups": [r["name"] for r in store.rows("SELECT name FROM groups ORDER BY name")],
        "personas": [r["persona_id"] for r in store.rows(
            "SELECT DISTINCT persona_id FROM sessions ORDER BY 1")],
        "rules": [r["rule"] for r in store.rows(
            "SELECT DISTINCT rule FROM findings WHERE verdict IN ('violation', 'missing') ORDER BY 1")],
    }


def session_for_review(store, session_id: str) -> dict | None:
    """One call with trainee, persona title, turns, findings (latest override) and history."""
    s = store.one(
        """SELECT s.*, u.name AS trainee, u.group_name, p.title AS persona_title,
                  a.pass_mark AS assignment_pass_mark
           FROM sessions s JOIN users u ON u.id = s.user_id
           LEFT JOIN personas p ON p.persona_id = s.persona_id AND p.version = s.persona_version
           LEFT JOIN assignments a ON a.id = s.assignment_id
           WHERE s.id = ?""", (session_id,))
    if s is None:
        return None
    s["turns"] = store.turns(session_id)
    s["findings"] = store.findings(session_id)
    history = store.rows(
        """SELECT o.*, u.name AS by_name FROM overrides o JOIN findings f ON f.id = o.finding_id
           LEFT JOIN users u ON u.id = o.by WHERE f.session_id = ? ORDER BY o.id""", (session_id,))
    for finding in s["findings"]:
        finding["history"] = [h for h in history if h["finding_id"] == finding["id"]]
    s["report"] = _json(s.get("report_json"), {}) or {}
    s["comments"] = comments_of(store, session_id)
    return s


def _json(text, default):
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def for_rescore(findings: list[dict]) -> list[dict]:
    """Store findings (``Store.findings``) as the grader's rescore() input: override = verdict only."""
    out = []
    for f in findings:
        d = {k: v for k, v in f.items() if k not in ("override", "history")}
        ov = f.get("override")
        if ov and ov.get("verdict") in VERDICTS:
            d["override"] = {"verdict": ov["verdict"], "comment": ov.get("comment"),
                             "by": ov.get("by_name"), "at": ov.get("at")}
        out.append(d)
    return out


def record_override(store, session_id: str, finding_id: int, verdict: str, comment: str,
                    user_id: int, rescore, book) -> dict | None:
    """Keep an override (who, when, why), rescore the call and store the new score.

    ``verdict`` is 'dismissed' (the finding does not count) or 'violation' (upheld: it counts).
    The original report stays as it was; the recomputed numbers go to ``report["revised"]``.
    Returns the rescore() result, or None when the finding is not part of that call.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"override verdict must be one of {VERDICTS}")
    with store.transaction():
        if store.one("SELECT id FROM findings WHERE id = ? AND session_id = ?",
                     (finding_id, session_id)) is None:
            return None
        at = now_iso()
        store.execute("INSERT INTO overrides (finding_id, verdict, comment, by, at) "
                      "VALUES (?, ?, ?, ?, ?)", (finding_id, verdict, comment, user_id, at))
        result = dict(rescore(for_rescore(store.findings(session_id)), book))
        s = store.one("""SELECT s.report_json, s.status, a.pass_mark FROM sessions s
                         LEFT JOIN assignments a ON a.id = s.assignment_id WHERE s.id = ?""",
                      (session_id,))
        if s["pass_mark"] is not None:  # an assignment's own pass mark wins over the book's
            result["passed"] = result["score"] >= s["pass_mark"] and not result.get("auto_fail")
        if s["status"] == "interrupted":  # a review rescores it, but a cut-off call never passes
            result["passed"] = False
        store.update_score(session_id, result["score"], result["passed"], result.get("auto_fail"))
        report = _json(s["report_json"], {}) or {}
        report["revised"] = {"score": result["score"], "passed": bool(result["passed"]),
                             "auto_fail": bool(result.get("auto_fail")),
                             "dimensions": result.get("dimensions"), "by": user_id, "at": at}
        store.execute("UPDATE sessions SET report_json = ? WHERE id = ?",
                      (json.dumps(report, ensure_ascii=False), session_id))
    return result


def add_comment(store, session_id: str, text: str, user_id: int) -> int:
    cur = store.execute("INSERT INTO comments (session_id, author, text, at) VALUES (?, ?, ?, ?)",
                        (session_id, user_id, text, now_iso()))
    return cur.lastrowid


def comments_of(store, session_id: str) -> list[dict]:
    return store.rows("""SELECT c.id, c.text, c.at, u.name AS author FROM comments c
                         LEFT JOIN users u ON u.id = c.author WHERE c.session_id = ? ORDER BY c.id""",
                      (session_id,))


def review_notes(store, session_id: str) -> dict:
    """What the trainee's report shows from the review: comments and overridden findings."""
    overridden = [f for f in store.findings(session_id) if f.get("override")]
    return {"comments": comments_of(store, session_id), "overrides": overridden}
