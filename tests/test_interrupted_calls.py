"""Interrupted calls (server killed, page closed for hours): graded on the turns that were stored,
shown as 中断, never passed, and left out of averages and pass rates."""

from __future__ import annotations

import re

import pytest

from simulator.grading import load_phrasebook
from simulator.personas import find_persona
from simulator.session import CallSession, interrupted_report
from simulator.callers import get_backend

GREETING = "您好，星海宽带，请问有什么可以帮您？"
RUDE = "这是公司规定，我也没办法。"


def start(auth, persona="suggestion", **form) -> str:
    r = auth.post("/call/start", form or {"persona_id": persona})
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"].rsplit("/", 1)[1]


def talk(client, auth, sid, replies):
    """The caller's line, then each reply after the next caller line, as the call page does."""
    for text in replies:
        caller_line(client, sid)
        r = auth.post_json(f"/call/{sid}/reply", {"text": text})
        assert r.status_code == 200, r.get_data(as_text=True)
        assert not r.get_json()["ended"]
    caller_line(client, sid)


def caller_line(client, sid) -> str:
    """Read the whole event stream (the caller's line is stored once it has been streamed)."""
    r = client.get(f"/call/{sid}/stream")
    assert r.status_code == 200
    return r.get_data(as_text=True)


@pytest.fixture
def trainee(client, auth):
    auth.login_as("trainee")
    return auth


@pytest.fixture
def supervisor(app, make_auth):
    c = app.test_client()
    make_auth(c).login_as("supervisor")
    return c


def test_an_interrupted_call_keeps_its_turns_and_gets_a_report(client, trainee, supervisor, store):
    sid = start(trainee)
    talk(client, trainee, sid, [GREETING, RUDE])
    turns = store.turns(sid)
    assert [t["role"] for t in turns] == ["caller", "agent", "caller", "agent", "caller"]

    assert store.recover_interrupted(stale_after_s=0) == [sid]
    row = store.get_session(sid)
    assert (row["status"], row["end_reason"]) == ("interrupted", "interrupted")
    assert store.turns(sid) == turns  # nothing said is lost
    report = row["report"]
    rules = {f["rule"] for f in report["findings"]}
    assert "forbidden.rule-is-rule" in rules and "opening.greeting" in rules
    # rules that need the call's end would only blame the cut
    assert not rules & {"closing.thanks-goodbye", "surname.use", "surname.ask"}
    assert report["passed"] is False and report["interrupted"] is True
    assert row["score"] == report["score"] and row["passed"] == 0
    assert {f["rule"] for f in store.findings(sid)} == rules

    html = client.get(f"/report/{sid}").get_data(as_text=True)
    assert f"{report['score']:.1f} 分" in html and "通话中断" in html and "合格</span>" not in html
    assert "forbidden.rule-is-rule" in html and "interrupted-note" in html
    assert client.get(f"/call/{sid}").headers["Location"] == f"/report/{sid}"
    home = client.get("/practice").get_data(as_text=True)
    assert "已中断" in home and f"/report/{sid}" in home

    page = supervisor.get(f"/supervisor/sessions/{sid}").get_data(as_text=True)
    assert "通话中断，不算通过" in page and "forbidden.rule-is-rule" in page and "（通话中断）" in page
    table = supervisor.get("/supervisor/").get_data(as_text=True)
    assert f"/supervisor/sessions/{sid}" in table and ">中断</span>" in table
    assert f"/supervisor/sessions/{sid}" in supervisor.get("/supervisor/?result=fail").get_data(as_text=True)
    assert f"/supervisor/sessions/{sid}" not in supervisor.get("/supervisor/?result=pass").get_data(as_text=True)


def test_interrupted_calls_count_in_no_average_or_pass_rate(client, trainee, supervisor, store):
    done = start(trainee)
    talk(client, trainee, done, [GREETING])
    assert trainee.post_json(f"/call/{done}/hangup").get_json()["ended"]
    cut = start(trainee)
    talk(client, trainee, cut, [GREETING, "好的。"])
    store.recover_interrupted(stale_after_s=0)
    assert store.get_session(cut)["score"] is not None

    page = supervisor.get("/supervisor/overview").get_data(as_text=True)
    assert re.search(r"已评分通话 <strong>1</strong>", page)
    assert "另有 1 通中断的通话" in page
    avg = store.get_session(done)["score"]
    assert f"平均分 <strong>{round(avg, 1)}</strong>" in page
    progress = client.get("/progress").get_data(as_text=True)
    assert "共 1 通" in progress


def test_an_interrupted_exam_is_never_passed_not_even_after_a_review(client, trainee, supervisor, store):
    store.add_assignment("suggestion", mode="exam", pass_mark=0,
                         trainee_id=store.get_user_by_name("trainee")["id"])
    [a] = store.assignments_for_user(store.get_user_by_name("trainee"))
    sid = start(trainee, assignment_id=str(a["id"]))
    talk(client, trainee, sid, [GREETING, RUDE])
    store.recover_interrupted(stale_after_s=0)
    row = store.get_session(sid)
    assert row["report"]["pass_mark"] == 0 and row["passed"] == 0 and row["score"] >= 0
    f = next(f for f in store.findings(sid) if f["verdict"] != "ok")
    token = re.search(r'name="csrf-token" content="([^"]+)"',
                      supervisor.get("/supervisor/").get_data(as_text=True)).group(1)
    r = supervisor.post(f"/supervisor/sessions/{sid}/findings/{f['id']}/override",
                        data={"verdict": "dismissed", "comment": "误判", "csrf_token": token})
    assert r.status_code == 302
    assert store.get_session(sid)["passed"] == 0
    assert "通话中断，不算通过" in supervisor.get(r.headers["Location"]).get_data(as_text=True)
    # the abandoned exam was the one try: it cannot be started afresh
    [a] = store.assignments_for_user(store.get_user_by_name("trainee"))
    assert a["tries"] == 1 and a["best"] is None
    again = trainee.post("/call/start", {"assignment_id": str(a["id"])})
    assert again.status_code == 302 and again.headers["Location"].endswith("/practice")
    assert "这场考试您已经参加过了" in client.get("/practice").get_data(as_text=True)
    uid = store.get_user_by_name("trainee")["id"]
    assert [s["id"] for s in store.sessions_for_user(uid) if s["assignment_id"] == a["id"]] == [sid]


def test_a_call_nobody_answered_is_interrupted_without_a_report(client, trainee, store):
    sid = start(trainee)
    assert "event: turn" in caller_line(client, sid)  # the caller spoke, nobody replied
    assert store.recover_interrupted(stale_after_s=0) == [sid]
    row = store.get_session(sid)
    assert row["status"] == "interrupted" and row["report"] is None and row["score"] is None
    assert "没有可评分的内容" in client.get(f"/report/{sid}").get_data(as_text=True)


def test_old_interrupted_calls_without_a_report_get_one_at_the_next_start(client, trainee, store):
    sid = start(trainee)
    talk(client, trainee, sid, [GREETING])
    store.execute("UPDATE sessions SET status = 'interrupted', end_reason = 'interrupted' WHERE id = ?", (sid,))
    assert store.get_session(sid)["report"] is None
    assert store.recover_interrupted() == []  # nothing newly interrupted, but the old one is graded
    assert store.get_session(sid)["report"]["interrupted"] is True


def test_a_call_advanced_meanwhile_is_not_interrupted(client, trainee, store, monkeypatch):
    sid = start(trainee)
    talk(client, trainee, sid, [GREETING])
    real = type(store)._grade_interrupted

    def racing(self, session_id, book):  # a worker stores a turn while recovery grades
        out = real(self, session_id, book)
        self.execute("UPDATE sessions SET updated_ts = updated_ts + 1000 WHERE id = ?", (session_id,))
        return out
    monkeypatch.setattr(type(store), "_grade_interrupted", racing)
    store.recover_interrupted(stale_after_s=0)
    assert store.get_session(sid)["status"] == "active"


def test_a_call_whose_persona_cannot_be_parsed_is_still_marked(client, trainee, store):
    sid = start(trainee)
    talk(client, trainee, sid, [GREETING])
    store.execute("UPDATE personas SET yaml = 'id: [' WHERE persona_id = 'suggestion'")
    assert store.recover_interrupted(stale_after_s=0) == [sid]
    row = store.get_session(sid)
    assert row["status"] == "interrupted" and row["report"] is None


def test_the_session_and_the_store_grade_an_interrupted_call_alike():
    book, persona = load_phrasebook(), find_persona("suggestion")
    s = CallSession(persona, get_backend("scripted"), book)
    for reply in [GREETING, RUDE]:
        "".join(s.caller_turn())
        s.agent_turn(reply, at=s.turns[-1]["at"] + 1)
    s.end("interrupted")
    assert s.report() == interrupted_report(persona, s.turns, book)
    assert s.report()["passed"] is False
    assert interrupted_report(persona, s.turns[:1], book) is None  # the trainee never spoke


def test_the_trainee_can_end_an_abandoned_call_from_home(client, trainee, store):
    sid = start(trainee)
    talk(client, trainee, sid, [GREETING])
    home = client.get("/practice").get_data(as_text=True)
    assert 'id="unfinished"' in home and f"/call/{sid}/hangup" in home and "结束通话" in home
    r = trainee.post(f"/call/{sid}/hangup")
    assert r.status_code == 302 and r.headers["Location"] == f"/report/{sid}"
    row = store.get_session(sid)
    assert (row["status"], row["end_reason"]) == ("ended", "agent_hangup") and row["report"]
    assert store.turns(sid)[-1]["text"] == "（挂机）"
    assert 'id="unfinished"' not in client.get("/practice").get_data(as_text=True)


def test_cut_short_leaves_out_only_the_rules_that_need_the_end_of_the_call():
    from simulator.grading import LiveGrader
    book = load_phrasebook()
    live = LiveGrader(book, company="星海宽带")
    live.add_turn({"role": "caller", "text": "喂，你好，我想问一下账单。", "at": 0.0})
    for i, text in enumerate(["您好，星海宽带，请问有什么可以帮您？", "可能是系统的问题吧，好像扣多了。",
                              "我不太清楚，可能要等一下，好像是这样。"]):
        live.add_turn({"role": "agent", "text": text, "at": 1.0 + 2 * i})
        live.add_turn({"role": "caller", "text": "那到底怎么回事？", "at": 2.0 + 2 * i})
    whole = {f["rule"] for f in live.report(final=True)["findings"]}
    cut = {f["rule"] for f in live.report(final=True, cut_short=True)["findings"]}
    assert "closing.thanks-goodbye" in whole and "closing.thanks-goodbye" not in cut
    assert "quality.hedging" in whole and "quality.hedging" in cut
    assert cut < whole
