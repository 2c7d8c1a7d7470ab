"""Supervisor pages: every finished call (filters, sorting, CSV), one call's review (override a
finding with a required comment, the score recomputed; a note to the trainee), the team overview.

Roles: supervisor or admin. Supervisors see all trainees' calls: reviewing them is their job.
"""

from __future__ import annotations

from flask import (Blueprint, Response, abort, flash, g, redirect, render_template, request,
                   url_for)

from simulator.grading import rescore
from simulator.store import review, review_stats

from .auth import role_required
from .db import get_store
from .staff import charts, csvout, preview, timefmt
from .staff.marks import highlight

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")
COMMENT_MAX = 2000
PAGE_SIZE = 50  # rows per page of the sessions table; the CSV has every matching row
VERDICT_NAMES = {"dismissed": "驳回（不计分）", "violation": "维持（计分）"}
SORT_NAMES = {"started": "开始时间", "trainee": "学员", "group": "学员组", "persona": "角色",
              "mode": "类型", "score": "得分"}


def _filters():
    return timefmt.local_filters(review.clean_filters(request.args))


def _page(total: int) -> tuple[int, int]:
    """(page, pages) from ``?page=``: anything malformed is page 1, past the end the last page."""
    pages = max(1, -(-total // PAGE_SIZE))
    try:
        wanted = int(request.args.get("page") or 1)
    except ValueError:
        wanted = 1
    return min(max(wanted, 1), pages), pages


@bp.route("/")
@role_required("supervisor")
def index():
    store, f = get_store(), _filters()
    total = review.count_sessions(store, f)
    page, pages = _page(total)
    rows = review.find_sessions(store, f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    query = {k: v for k, v in f.items() if k not in ("sort", "dir", "day_start", "local_date")}
    return render_template("supervisor/index.html", rows=rows, f=f, query=query, total=total,
                           page=page, pages=pages, options=review.filter_options(store),
                           sort_names=SORT_NAMES)


def _csv(name: str, header, rows) -> Response:
    return Response(csvout.to_csv(header, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/sessions.csv")
@role_required("supervisor")
def sessions_csv():
    rows = review.find_sessions(get_store(), _filters(), limit=None)
    header = ["通话ID", "学员", "学员组", "角色", "角色标题", "角色版本", "类型", "开始时间", "结束时间",
              "结束原因", "得分", "是否通过", "一票否决", "问题数"]
    return _csv("sessions.csv", header, (
        [r["id"], r["trainee"], r["group_name"], r["persona_id"], r["persona_title"],
         r["persona_version"], r["mode"], r["started"], r["ended"], r["end_reason"], r["score"],
         _yes(r["passed"]), _yes(r["auto_fail"]), r["problems"]] for r in rows))


@bp.route("/findings.csv")
@role_required("supervisor")
def findings_csv():
    header = ["通话ID", "学员", "角色", "轮次", "规则", "结论", "严重程度", "维度", "证据", "说明",
              "标准话术", "复核结论", "复核人", "复核说明", "复核时间"]
    return _csv("findings.csv", header, (
        [f["session_id"], f["trainee"], f["persona_id"], f["turn"], f["rule"], f["verdict"],
         f["severity"], f["dimension"], f["evidence"], f["message"], f["suggestion"],
         f["override_verdict"], f["override_by"], f["override_comment"], f["override_at"]]
        for f in review.filtered_findings(get_store(), _filters())))


def _yes(v):
    return None if v is None else ("是" if v else "否")


def _load(session_id):
    s = review.session_for_review(get_store(), session_id)
    if s is None:
        abort(404)
    return s


def _render_review(s, error=None, status=200):
    by_turn: dict = {}
    for f in s["findings"]:
        by_turn.setdefault(f["turn"], []).append(f)
    turns = [dict(t, html=highlight(t["text"], by_turn.get(t["idx"], ()))) for t in s["turns"]]
    original = s["report"] if s["report"] else {}
    revised = original.get("revised")
    return render_template("supervisor/review.html", s=s, turns=turns, by_turn=by_turn,
                           whole_call=by_turn.get(None, []), original=original, revised=revised,
                           dimensions=(revised or original).get("dimensions") or {},
                           verdict_names=VERDICT_NAMES, titles=preview.rule_titles(),
                           error=error), status


@bp.route("/sessions/<session_id>")
@role_required("supervisor")
def session(session_id):
    return _render_review(_load(session_id))


@bp.route("/sessions/<session_id>/findings/<int:finding_id>/override", methods=("POST",))
@role_required("supervisor")
def override(session_id, finding_id):
    s = _load(session_id)
    if s["status"] == "active":
        return _render_review(s, "通话尚未结束，结束后才能复核。", 409)
    verdict = request.form.get("verdict")
    comment = (request.form.get("comment") or "").strip()
    if verdict not in review.VERDICTS:
        return _render_review(s, "请选择复核结论：驳回或维持。", 400)
    if not comment:
        return _render_review(s, "复核必须填写说明（为什么驳回或维持）。", 400)
    if len(comment) > COMMENT_MAX:
        return _render_review(s, f"说明太长（上限 {COMMENT_MAX} 字）。", 400)
    result = review.record_override(get_store(), session_id, finding_id, verdict, comment,
                                    g.user["id"], rescore, preview.phrasebook())
    if result is None:
        abort(404)
    flash(f"已记录复核（{VERDICT_NAMES[verdict]}），重新计分：{result['score']} 分，"
          f"{'通过' if result['passed'] else '未通过'}。")
    return redirect(url_for("supervisor.session", session_id=session_id, _anchor=f"f{finding_id}"))


@bp.route("/sessions/<session_id>/comment", methods=("POST",))
@role_required("supervisor")
def comment(session_id):
    s = _load(session_id)
    text = (request.form.get("text") or "").strip()
    if not text:
        return _render_review(s, "评语不能为空。", 400)
    if len(text) > COMMENT_MAX:
        return _render_review(s, f"评语太长（上限 {COMMENT_MAX} 字）。", 400)
    review.add_comment(get_store(), session_id, text, g.user["id"])
    flash("评语已保存，学员会在报告中看到。")
    return redirect(url_for("supervisor.session", session_id=session_id, _anchor="comments"))


@bp.route("/overview")
@role_required("supervisor")
def overview():
    store, f = get_store(), _filters()
    data = review_stats.overview(store, f)
    titles = preview.rule_titles()
    for r in data["broken_rules"]:
        r["title"] = titles.get(r["rule"], "")
    figures = {
        "trainee_pass": charts.hbar([(r["name"], r["pass_rate"]) for r in data["by_trainee"]],
                                    max_value=100, unit="%", title="各学员通过率"),
        "persona_pass": charts.hbar([(r["title"], r["pass_rate"]) for r in data["by_persona"]],
                                    max_value=100, unit="%", title="各角色通过率"),
        "rules": charts.hbar([(r["rule"], r["times"]) for r in data["broken_rules"]],
                             unit=" 次", title="最常违反的规则"),
        "trend": charts.lines([t["week"] for t in data["trend"]],
                              {"平均分": [t["avg_score"] for t in data["trend"]],
                               "通过率 %": [t["pass_rate"] for t in data["trend"]]},
                              max_value=100, title="每周趋势"),
    }
    return render_template("supervisor/overview.html", data=data, figures=figures, f=f,
                           options=review.filter_options(store))


@bp.app_template_filter("points")
def points(value):
    """78.0 -> 78, 72.5 -> 72.5, None -> —."""
    if value is None:
        return "—"
    value = round(float(value), 1)
    return int(value) if value == int(value) else value


@bp.app_context_processor
def review_notes_helper():
    """``review_notes(session_id)`` for the trainee's report (include supervisor/_review_notes.html)."""
    return {"review_notes": lambda session_id: review.review_notes(get_store(), session_id)}
