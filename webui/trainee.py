"""The trainee's pages: home, the call (caller lines streamed as server-sent events), report, progress.

A trainee sees only their own calls: any other id is a 404, never a 403 that would confirm it.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (Blueprint, Response, abort, current_app, flash, g, jsonify, redirect, render_template,
                   request, stream_with_context, url_for)

from simulator.errors import PeilianError
from simulator.session import SessionError
from simulator.store import open_store

from . import calls, svg
from .auth import role_required, wants_json
from .db import get_store
from .highlight import report_turns

bp = Blueprint("trainee", __name__)
SCENARIO_NAMES = {"general": "常规来电", "angry": "情绪激动", "complaint": "投诉", "silent": "无声电话",
                  "noisy": "杂音大", "low-volume": "声音小", "dialect": "方言", "volume-complaint": "嫌音量小",
                  "wrong-number": "打错电话", "private-call": "私人来电", "nuisance": "骚扰推销", "price": "询价",
                  "confidential": "保密信息", "hold": "保持等待", "suggestion": "客户建议", "chat": "在线客服"}


@bp.app_template_filter("local_time")
def local_time(iso) -> str:
    """'2026-11-23T19:33:16Z' (UTC, as stored) -> '2026-11-24 03:33' in DISPLAY_TZ (Asia/Shanghai)."""
    try:
        moment = datetime.strptime(str(iso), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        zone = ZoneInfo(current_app.config.get("DISPLAY_TZ") or "Asia/Shanghai")
    except (ValueError, ZoneInfoNotFoundError):
        return "" if iso is None else str(iso)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("scenario_name")
def scenario_name(key: str) -> str:
    """A scenario key in Chinese, for every page that lists scenarios."""
    return SCENARIO_NAMES.get(key, key)
MAX_REPLY_CHARS = 1000
HINT_FIELDS = ("rule", "verdict", "severity", "dimension", "evidence", "message", "suggestion", "turn")


def own_session(session_id: str) -> dict:
    row = get_store().get_session(session_id)
    if row is None or row["user_id"] != g.user["id"]:
        abort(404)
    return row


@bp.route("/practice")
@role_required("trainee")
def home():
    store = get_store()
    personas = store.list_personas()
    scenario, difficulty = request.args.get("scenario") or "", request.args.get("difficulty") or ""
    scenarios = sorted({s for p in personas for s in p["scenarios"]})
    shown = [p for p in personas if (not scenario or scenario in p["scenarios"])
             and (not difficulty or p["difficulty"] == difficulty)]
    return render_template("trainee/home.html", assignments=store.assignments_for_user(g.user),
                           personas=shown, scenarios=scenarios, scenario=scenario, difficulty=difficulty,
                           recent=store.sessions_for_user(g.user["id"], limit=10),
                           active=store.sessions_for_user(g.user["id"], status="active"),
                           today=time.strftime("%Y-%m-%d"))


@bp.route("/call/start", methods=("POST",))
@role_required("trainee")
def start():
    store = get_store()
    assignment_id = request.form.get("assignment_id")
    if assignment_id:
        a = store.assignment_for_user(assignment_id, g.user)
        if a is None:
            abort(404)
        for s in store.sessions_for_user(g.user["id"]):
            if s["assignment_id"] == a["id"] and s["status"] == "active":
                return redirect(url_for(".call", session_id=s["id"]))
        if a["mode"] == "exam" and a["tries"]:
            flash("这场考试您已经参加过了。")
            return redirect(url_for(".home"))
        row, mode = store.get_persona(a["persona_id"], a["version"]), a["mode"]
    else:
        row, mode = store.get_persona(request.form.get("persona_id") or ""), "practice"
    if row is None:
        abort(404)
    session_id = calls.start(store, g.user, row, mode, assignment_id=a["id"] if assignment_id else None)
    return redirect(url_for(".call", session_id=session_id))


@bp.route("/call/<session_id>")
@role_required("trainee")
def call(session_id):
    row = own_session(session_id)
    if row["status"] != "active":
        return redirect(url_for(".report", session_id=session_id))
    store = get_store()
    turns = store.turns(session_id)
    state = row["state"] or {}
    last_caller = next((t for t in reversed(turns) if t["role"] == "caller"), None)
    waiting = None
    if last_caller and turns[-1]["role"] == "caller" and last_caller["at"] is not None:
        waiting = max(0.0, time.time() - (state.get("started", row["started_ts"]) + last_caller["at"]))
    hints = store.findings(session_id) if row["mode"] == "practice" else []
    return render_template("trainee/call.html", row=row, turns=turns, waiting=waiting,
                           persona=store.get_persona(row["persona_id"], row["persona_version"]),
                           hints=[h for h in hints if h["verdict"] != "ok"],
                           mood=(state.get("caller") or {}).get("mood"),
                           awaiting_caller=bool(state.get("pending")) and not state.get("ended"))


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.route("/call/<session_id>/stream")
@role_required("trainee")
def stream(session_id):
    """The caller's next line, piece by piece; the turn is stored once complete."""
    own_session(session_id)
    data_dir, wait_s = current_app.config["DATA_DIR"], current_app.config["CALL_WAIT_S"]

    def events():
        store = open_store(data_dir, migrate=False)  # its own: the request's store closes first
        token = calls.try_lock(store, session_id, wait_s=wait_s)
        if token is None:  # another request is voicing this line; the page retries
            store.close()
            yield _sse("busy", {})
            return
        try:
            row = store.get_session(session_id)
            if row["status"] != "active":
                yield _sse("end", {"report_url": url_for(".report", session_id=session_id)})
                return
            s, sink = calls.load(store, row)
            stored = len(s.turns)
            if s.awaiting_caller:
                for piece in s.caller_turn():
                    yield _sse("piece", {"text": piece})
                calls.save(store, row, s, sink, stored, token)
            for idx in range(stored, len(s.turns)):
                yield _sse("turn", _turn_json(idx, s.turns[idx], row["mode"]))
            if s.ended:
                yield _sse("end", {"reason": s.end_reason.value,
                                   "report_url": url_for(".report", session_id=session_id)})
            else:
                yield _sse("idle", {"turns": len(s.turns)})
        except PeilianError as e:
            yield _sse("failure", {"message": "系统繁忙，请稍后刷新页面重试。"})
            current_app.logger.error("call %s: %s", session_id, e)
        finally:
            calls.unlock(store, session_id, token)
            store.close()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(events()), mimetype="text/event-stream", headers=headers)


def _turn_json(idx: int, turn: dict, mode: str) -> dict:
    out = {"idx": idx, "role": turn["role"], "text": turn["text"], "at": turn.get("at")}
    if mode == "practice":
        out["mood"] = turn.get("mood")
    return out


def _agent_action(session_id: str, act):
    """Run one agent action (reply, hold, hang up) on the stored call and answer in JSON."""
    own_session(session_id)
    store = get_store()
    with calls.locked(store, session_id, wait_s=min(2, current_app.config["CALL_WAIT_S"])) as token:
        row = store.get_session(session_id)
        if row["status"] != "active":
            abort(409, description="通话已经结束。")
        s, sink = calls.load(store, row)
        expect = (request.get_json(silent=True) or {}).get("expect")
        if expect is not None and expect != len(s.turns):
            abort(409, description="页面不是最新的（这条回复可能已经提交过），请刷新页面。")
        stored = len(s.turns)
        try:
            findings = act(s)
        except SessionError:  # e.g. the caller hung up before this reply arrived
            findings = None
        try:
            calls.save(store, row, s, sink, stored, token)
        except calls.LeaseLost:
            abort(409, description="这通电话已在另一个页面继续，请刷新页面。")
        if findings is None and not s.ended:
            abort(409, description="这条操作无法执行，请刷新页面。")
    report_url = url_for(".report", session_id=session_id)
    if not wants_json():
        return redirect(report_url if s.ended else url_for(".call", session_id=session_id))
    practice = row["mode"] == "practice"
    turn = _turn_json(stored, s.turns[stored], row["mode"]) if len(s.turns) > stored else None
    return jsonify(turn=turn, turns=len(s.turns),
                   findings=[{k: f.get(k) for k in HINT_FIELDS} for f in findings or ()] if practice else [],
                   ended=s.ended, report_url=report_url if s.ended else None,
                   awaiting_caller=s.awaiting_caller, mood=s.mood if practice else None)


@bp.route("/call/<session_id>/reply", methods=("POST",))
@role_required("trainee")
def reply(session_id):
    data = request.get_json(silent=True) or {}
    text = data.get("text") if request.is_json else request.form.get("text")
    if not isinstance(text, str) or not text.strip():
        abort(400, description="回复不能为空。")
    if len(text) > MAX_REPLY_CHARS:
        abort(400, description=f"回复太长了（最多 {MAX_REPLY_CHARS} 字）。")
    if re.search("[\ud800-\udfff]", text):  # a lone "\ud83d" escape: not storable as UTF-8
        abort(400, description="回复中有无法识别的字符，请重新输入。")
    return _agent_action(session_id, lambda s: s.agent_turn(text.strip()))


@bp.route("/call/<session_id>/hold", methods=("POST",))
@role_required("trainee")
def hold(session_id):
    return _agent_action(session_id, lambda s: s.hold())


@bp.route("/call/<session_id>/hangup", methods=("POST",))
@role_required("trainee")
def hangup(session_id):
    return _agent_action(session_id, lambda s: s.hang_up())


@bp.route("/report/<session_id>")
@role_required("trainee")
def report(session_id):
    row = own_session(session_id)
    if row["status"] == "active":
        return redirect(url_for(".call", session_id=session_id))
    store = get_store()
    turns, findings = store.turns(session_id), store.findings(session_id)
    report = row["report"] or {}
    return render_template("trainee/report.html", row=row, report=report,
                           persona=store.get_persona(row["persona_id"], row["persona_version"]),
                           turns=report_turns(turns, findings),
                           call_findings=[f for f in findings if f["turn"] is None],
                           dims=svg.dimension_bars(_dimensions(report)),
                           comments=store.comments(session_id))


def _dimensions(report: dict) -> dict:
    """The dimensions after a supervisor's review when there was one, else the grader's."""
    return (report.get("revised") or {}).get("dimensions") or report.get("dimensions") or {}


@bp.route("/progress")
@role_required("trainee")
def progress():
    store = get_store()
    done = [dict(s, started=local_time(s["started"]))
            for s in store.sessions_for_user(g.user["id"], status="ended") if s["score"] is not None]
    done.reverse()
    history = store.dimension_history(g.user["id"])
    return render_template("trainee/progress.html", sessions=done,
                           score_chart=svg.score_line(done, pass_mark=calls.phrasebook().pass_mark),
                           dim_chart=svg.dimension_lines(history),
                           rules=store.rule_counts_for_user(g.user["id"]))
