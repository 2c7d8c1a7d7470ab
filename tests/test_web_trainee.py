"""The trainee's pages through the Flask test client (and one real server): calls end to end."""

from __future__ import annotations

import json
import re

import pytest
import requests

from simulator.errors import StoreError

PERSONA = "angry-broadband"
GREETING = "您好，星海宽带，请问有什么可以帮您？"


def events(response) -> list[tuple[str, dict]]:
    """Parse a text/event-stream body into (event, data) pairs."""
    out = []
    for block in response.get_data(as_text=True).split("\n\n"):
        m = re.match(r"event: (\w+)\ndata: (.*)", block.strip(), re.S)
        if m:
            out.append((m.group(1), json.loads(m.group(2))))
    return out


def start_call(client, auth, **form) -> str:
    r = auth.post("/call/start", form or {"persona_id": PERSONA})
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"].rsplit("/", 1)[1]


def caller_line(client, sid) -> list[tuple[str, dict]]:
    r = client.get(f"/call/{sid}/stream")
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    return events(r)


def stored_turns(store, sid):
    return [(t["role"], t["text"]) for t in store.turns(sid)]


@pytest.fixture
def trainee(client, auth):
    auth.login_as("trainee")
    return auth


def test_home_shows_assignments_for_me_and_my_group_only(client, trainee, store):
    me = store.get_user_by_name("trainee")
    other = store.get_user_by_name("trainee2")
    store.add_assignment(PERSONA, mode="exam", pass_mark=70, group_name="一期", due="2098-12-01")
    store.add_assignment(PERSONA, mode="practice", trainee_id=me["id"], due="2020-11-30")
    store.add_assignment(PERSONA, mode="practice", trainee_id=other["id"], due="2099-01-01")
    html = client.get("/practice").get_data(as_text=True)
    assert "2098-12-01" in html and "2020-11-30" in html and "2099-01-01" not in html
    assert html.count("已过期") == 1
    assert "开始考试" in html and "合格线 70.0" in html
    assert "宽带断网三天的愤怒客户" in html  # free practice lists the shipped persona


def test_free_practice_filters_by_scenario_and_difficulty(client, trainee):
    html = client.get("/practice?scenario=angry&difficulty=medium").get_data(as_text=True)
    assert "宽带断网三天的愤怒客户" in html and '<option value="angry" selected>情绪激动</option>' in html
    assert "宽带断网三天的愤怒客户" not in client.get("/practice?difficulty=easy").get_data(as_text=True)


def test_a_whole_call_over_http_ends_in_a_stored_report(client, trainee, store):
    sid = start_call(client, trainee)
    page = client.get(f"/call/{sid}").get_data(as_text=True)
    assert 'data-awaiting-caller="true"' in page and "实时提示" in page
    ev = caller_line(client, sid)
    kinds = [k for k, _ in ev]
    assert kinds.count("piece") >= 2 and kinds[-2:] == ["turn", "idle"]
    line = ev[-2][1]
    assert line["idx"] == 0 and line["role"] == "caller"
    assert "".join(d["text"] for k, d in ev if k == "piece") == line["text"]

    r = trainee.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
    body = r.get_json()
    assert r.status_code == 200 and body["turn"]["idx"] == 1 and body["awaiting_caller"]
    assert any(f["rule"] == "opening.greeting" and f["verdict"] == "ok" for f in body["findings"])
    assert body["turn"]["at"] >= line["at"]  # times come from the server's clock
    caller_line(client, sid)
    r = trainee.post_json(f"/call/{sid}/hold", {"expect": 3})
    assert r.get_json()["turn"]["text"] == "（保持）"
    caller_line(client, sid)
    n = len(store.turns(sid))
    r = trainee.post_json(f"/call/{sid}/hangup", {"expect": n})
    body = r.get_json()
    assert body["ended"] and body["report_url"] == f"/report/{sid}"

    row = store.get_session(sid)
    assert row["status"] == "ended" and row["end_reason"] == "agent_hangup"
    assert row["report"]["score"] == row["score"] and row["passed"] == 0 and row["auto_fail"] == 1
    assert [r for r, _ in stored_turns(store, sid)] == ["caller", "agent", "caller", "agent", "caller", "agent"]
    assert {f["rule"] for f in store.findings(sid)} >= {"opening.greeting", "closing.no-hang-up-on-caller"}
    html = client.get(f"/report/{sid}").get_data(as_text=True)
    assert f"{row['score']:.1f} 分" in html and "未合格" in html and "标准话术" in html
    assert "依据（000_38188eab8a3aad00.txt）" in html
    assert client.get(f"/call/{sid}").headers["Location"] == f"/report/{sid}"
    assert trainee.post_json(f"/call/{sid}/reply", {"text": "喂"}).status_code == 409


@pytest.mark.parametrize("persona_id", ["angry-broadband", "hold-billing", "wrong-number"])
def test_a_standard_call_over_http_ends_when_the_caller_is_done(client, trainee, store, persona_id):
    from simulator.personas import find_persona
    from standard_agent import standard_replies

    if persona_id not in {p["persona_id"] for p in store.list_personas()}:
        pytest.skip(f"persona {persona_id} is not shipped")
    sid = start_call(client, trainee, persona_id=persona_id)
    replies = iter(standard_replies(find_persona(persona_id)))
    for _ in range(40):
        ev = caller_line(client, sid)
        if ev[-1][0] == "end":
            break
        reply = next(replies, None)
        assert reply is not None, "the caller never ended the call"
        body = trainee.post_json(f"/call/{sid}/reply", {"text": reply, "expect": len(store.turns(sid))}).get_json()
        if body["ended"]:
            break
    row = store.get_session(sid)
    assert row["status"] == "ended" and row["end_reason"] == "satisfied"
    assert row["passed"] == 1, [f["rule"] for f in store.findings(sid) if f["verdict"] != "ok"]
    assert client.get(f"/report/{sid}").status_code == 200


def test_exam_mode_gives_no_hints_and_only_one_attempt(client, trainee, store):
    aid = store.add_assignment(PERSONA, mode="exam", pass_mark=10, group_name="一期")
    sid = start_call(client, trainee, assignment_id=str(aid))
    page = client.get(f"/call/{sid}").get_data(as_text=True)
    assert "考试不显示提示" in page and "实时提示" not in page
    caller_line(client, sid)
    body = trainee.post_json(f"/call/{sid}/reply", {"text": "你烦不烦，这是公司规定", "expect": 1}).get_json()
    assert body["findings"] == [] and body["mood"] is None
    assert store.findings(sid)  # graded all the same
    # starting the exam again while it runs resumes the same call
    assert start_call(client, trainee, assignment_id=str(aid)) == sid
    trainee.post_json(f"/call/{sid}/hangup", {})
    row = store.get_session(sid)
    assert row["assignment_id"] == aid and row["report"]["pass_mark"] == 10
    r = trainee.post("/call/start", {"assignment_id": str(aid)})
    assert r.headers["Location"] == "/practice"
    assert "这场考试您已经参加过了" in client.get("/practice").get_data(as_text=True)


def test_someone_elses_assignment_is_404(client, trainee, store):
    other = store.get_user_by_name("trainee2")
    aid = store.add_assignment(PERSONA, mode="practice", trainee_id=other["id"])
    assert trainee.post("/call/start", {"assignment_id": str(aid)}).status_code == 404
    assert trainee.post("/call/start", {"persona_id": "no-such-persona"}).status_code == 404


def test_resume_after_reconnect_loses_no_turn(app, client, trainee, store, make_auth):
    sid = start_call(client, trainee)
    caller_line(client, sid)
    trainee.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
    before = stored_turns(store, sid)
    # a new browser: new cookie jar, log in again, open the same call
    other = app.test_client()
    auth2 = make_auth(other)
    auth2.login_as("trainee")
    page = other.get(f"/call/{sid}").get_data(as_text=True)
    for _, text in before:
        assert text in page
    assert f'data-turns="{len(before)}"' in page and 'data-awaiting-caller="true"' in page
    ev = caller_line(other, sid)
    assert [d["idx"] for k, d in ev if k == "turn"] == [len(before)]
    # the old page's stream comes back too: nothing new to say, nothing duplicated
    assert [k for k, _ in caller_line(client, sid)] == ["idle"]
    assert stored_turns(store, sid)[: len(before)] == before and len(store.turns(sid)) == len(before) + 1


def test_a_double_submitted_reply_is_stored_once(client, trainee, store):
    sid = start_call(client, trainee)
    caller_line(client, sid)
    assert trainee.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1}).status_code == 200
    r = trainee.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
    assert r.status_code == 409 and "刷新" in r.get_json()["error"]
    assert [t for t in stored_turns(store, sid) if t[0] == "agent"] == [("agent", GREETING)]


def test_a_call_held_by_another_request_answers_busy(app, client, trainee, store):
    app.config["CALL_WAIT_S"] = 0.3
    sid = start_call(client, trainee)
    token = store.lock_call(sid)
    assert trainee.post_json(f"/call/{sid}/reply", {"text": GREETING}).status_code == 409
    assert [k for k, _ in caller_line(client, sid)] == ["busy"]
    store.unlock_call(sid, token)
    assert [k for k, _ in caller_line(client, sid)][-1] == "idle"


@pytest.mark.parametrize("payload,message", [({"text": ""}, "不能为空"), ({"text": "字" * 1001}, "太长"),
                                             ({}, "不能为空")])
def test_bad_replies_are_400_and_store_nothing(client, trainee, store, payload, message):
    sid = start_call(client, trainee)
    caller_line(client, sid)
    r = trainee.post_json(f"/call/{sid}/reply", payload)
    assert r.status_code == 400 and message in r.get_json()["error"]
    assert len(store.turns(sid)) == 1


def test_an_oversized_request_is_413(client, trainee, store):
    sid = start_call(client, trainee)
    r = trainee.post_json(f"/call/{sid}/reply", {"text": "字" * 200_000})
    assert r.status_code == 413 and "太长" in r.get_json()["error"]
    assert store.turns(sid) == []


def test_reply_without_csrf_header_is_400(client, trainee, store):
    sid = start_call(client, trainee)
    r = client.post(f"/call/{sid}/reply", json={"text": GREETING}, headers={"Accept": "application/json"})
    assert r.status_code == 400
    r = client.post(f"/call/{sid}/reply", json={"text": GREETING},
                    headers={"X-CSRF-Token": "forged", "Accept": "application/json"})
    assert r.status_code == 400
    assert store.turns(sid) == []


CALL_PATHS = ["/call/{sid}", "/call/{sid}/stream", "/report/{sid}"]
POST_PATHS = ["/call/{sid}/reply", "/call/{sid}/hold", "/call/{sid}/hangup"]


@pytest.fixture
def foreign_call(app, make_auth):
    """A call that belongs to trainee2."""
    c = app.test_client()
    a = make_auth(c)
    a.login_as("trainee2")
    return start_call(c, a)


@pytest.mark.parametrize("path", CALL_PATHS + POST_PATHS)
@pytest.mark.parametrize("role,status", [("trainee", 404), ("trainer", 403), ("supervisor", 403), (None, None)])
def test_call_routes_are_only_for_their_owner(client, auth, foreign_call, path, role, status):
    if role:
        auth.login_as(role)
    url = path.format(sid=foreign_call)
    if path in POST_PATHS:
        r = client.post(url, json={"text": "x"}, headers={"X-CSRF-Token": auth.csrf(), "Accept": "application/json"})
    else:
        r = client.get(url)
    if role is None:  # logged out: pages go to the login form, API calls get 401
        assert r.status_code in (302, 401)
        if r.status_code == 302:
            assert r.headers["Location"].startswith("/auth/login")
    else:
        assert r.status_code == status


def test_a_guessed_session_id_is_404(client, trainee):
    for guess in ("1", "abc", "A" * 16):
        assert client.get(f"/report/{guess}").status_code == 404


HOSTILE = '<script>alert("x")</script><b>粗</b>'


def test_html_in_every_text_field_comes_back_escaped(client, auth, store):
    store.add_user(HOSTILE, role="trainee", password="pw-hostile", group=HOSTILE)
    store.add_persona_version("hostile", "id: hostile\n", title=HOSTILE, difficulty=HOSTILE, scenarios=[HOSTILE])
    auth.login(HOSTILE, "pw-hostile")
    sid = start_call(client, auth)
    caller_line(client, sid)
    auth.post_json(f"/call/{sid}/reply", {"text": HOSTILE + "这是公司规定", "expect": 1})
    auth.post_json(f"/call/{sid}/hangup", {})
    [finding] = [f for f in store.findings(sid) if f["rule"] == "forbidden.rule-is-rule"]
    supervisor = store.get_user_by_name("supervisor")
    store.execute("INSERT INTO comments (session_id, author, text, at) VALUES (?, ?, ?, 't')",
                  (sid, supervisor["id"], HOSTILE))
    store.execute("INSERT INTO overrides (finding_id, verdict, comment, by, at) VALUES (?, 'dismissed', ?, ?, 't')",
                  (finding["id"], HOSTILE, supervisor["id"]))
    for url in (f"/report/{sid}", "/practice", "/progress"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<b>粗</b>" not in html, url
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, url
    html = client.get(f"/report/{sid}").get_data(as_text=True)
    assert html.count("&lt;b&gt;粗&lt;/b&gt;") >= 3  # the reply, the comment, the override
    assert "<mark>这是公司规定</mark>" in html, re.findall(r"<span class=\"text\">.*", html)
    assert "主管复核：撤销，不计分" in html


def test_progress_page_charts_scores_and_most_broken_rules(client, trainee, store):
    assert "完成第一通电话后" in client.get("/progress").get_data(as_text=True)
    for reply in ("这是公司规定", "你烦不烦，这是公司规定"):
        sid = start_call(client, trainee)
        caller_line(client, sid)
        trainee.post_json(f"/call/{sid}/reply", {"text": reply, "expect": 1})
        trainee.post_json(f"/call/{sid}/hangup", {})
    html = client.get("/progress").get_data(as_text=True)
    assert html.count("<svg") == 2 and "<polyline" in html and "共 2 通" in html
    rows = store.rule_counts_for_user(store.get_user_by_name("trainee")["id"])
    assert {"rule": "forbidden.rule-is-rule", "times": 2, "calls": 2} == {k: rows[[r["rule"] for r in rows].index("forbidden.rule-is-rule")][k] for k in ("rule", "times", "calls")}
    assert "forbidden.rule-is-rule" in html


def test_a_reviewed_call_shows_the_revised_score_and_dimensions(client, trainee, store):
    sid = start_call(client, trainee)
    caller_line(client, sid)
    trainee.post_json(f"/call/{sid}/hangup", {})
    report = store.get_session(sid)["report"]
    report["revised"] = {"score": 88.5, "passed": True, "auto_fail": False,
                         "dimensions": {"礼貌": {"score": 29.5, "max": 30}}}
    store.execute("UPDATE sessions SET report_json = ? WHERE id = ?", (json.dumps(report), sid))
    store.update_score(sid, 88.5, True, False)
    html = client.get(f"/report/{sid}").get_data(as_text=True)
    assert "88.5 分" in html and "合格" in html and f"系统原始评分 {report['score']:.1f} 分" in html
    assert "29.5 / 30.0" in html
    [h] = store.dimension_history(store.get_user_by_name("trainee")["id"])
    assert h["dims"] == {"礼貌": 98.3} and h["score"] == 88.5


def test_interrupted_call_report_says_so(client, trainee, store):
    sid = start_call(client, trainee)
    store.execute("UPDATE sessions SET updated_ts = 0 WHERE id = ?", (sid,))
    assert store.recover_interrupted() == [sid]
    assert client.get(f"/call/{sid}").headers["Location"] == f"/report/{sid}"
    html = client.get(f"/report/{sid}").get_data(as_text=True)
    assert "已中断" in html


def test_a_store_failure_shows_a_chinese_error_page_and_keeps_the_call(client, trainee, store, monkeypatch):
    sid = start_call(client, trainee)
    caller_line(client, sid)

    def broken(*a, **k):
        raise StoreError("the disk holding peilian.db is full; nothing was written")
    monkeypatch.setattr("simulator.store.Store.append_turn", broken)
    r = trainee.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
    assert r.status_code == 503 and "系统繁忙" in r.get_json()["error"]
    monkeypatch.undo()
    assert len(store.turns(sid)) == 1 and store.get_session(sid)["lock_token"] is None
    assert trainee.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1}).status_code == 200


def test_caller_lines_stream_over_a_real_server(live_server, store):
    s = requests.Session()
    page = s.get(f"{live_server}/auth/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    s.post(f"{live_server}/auth/login", data={"name": "trainee", "password": "pw-trainee-1", "csrf_token": token})
    token = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{live_server}/practice").text).group(1)
    r = s.post(f"{live_server}/call/start", data={"persona_id": PERSONA, "csrf_token": token}, allow_redirects=False)
    sid = r.headers["Location"].rsplit("/", 1)[1]
    with s.get(f"{live_server}/call/{sid}/stream", stream=True, timeout=30) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        chunks = [c for c in resp.iter_content(chunk_size=None) if c]
    assert len(chunks) >= 3  # pieces arrive as separate writes, not one buffered body
    assert b"event: turn" in b"".join(chunks)
    assert len(store.turns(sid)) == 1


def test_times_are_shown_in_the_display_zone(app):
    from webui.trainee import local_time
    with app.app_context():
        assert local_time("2026-11-23T19:33:16Z") == "2026-11-24 03:33"
        app.config["DISPLAY_TZ"] = "UTC"
        assert local_time("2026-11-23T19:33:16Z") == "2026-11-23 19:33"
        assert local_time("not a time") == "not a time" and local_time(None) == ""


def test_a_chat_persona_is_a_customer_typing_not_a_caller(client, trainee, store):
    if store.get_persona("chat-order") is None:
        pytest.skip("no chat persona shipped")
    sid = start_call(client, trainee, persona_id="chat-order")
    caller_line(client, sid)
    page = client.get(f"/call/{sid}").get_data(as_text=True)
    assert 'data-caller-word="客户"' in page and "距客户上一句话" in page and "来电方" not in page
