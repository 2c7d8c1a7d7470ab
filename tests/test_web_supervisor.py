"""Supervisor pages through the Flask test client, on calls really played by the scripted caller
and graded by the real phrasebook: access, filters, sorting, CSV, override + rescore, comments,
overview charts."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from simulator.callers import get_backend
from simulator.grading import rescore
from simulator.personas import parse_persona_text
from simulator.session import CallSession
from webui.staff import csvout, timefmt
from webui.staff.marks import highlight
from webui.staff.preview import phrasebook

GOOD = ["您好，星海宽带，请问有什么可以帮您？", "您消消气，我理解您的心情，非常抱歉给您带来不便。请问您贵姓？",
        "张先生，请问您的宽带账号是多少？", "好的张先生，请问您的地址是？", "张先生，请问您的联系电话是？",
        "好的张先生，我马上为您登记，今天下午两小时内安排师傅上门。", "请问您还有其它问题吗？",
        "感谢您的来电，请您先挂机，再见！"]
RUDE = ["=HYPERLINK(\"http://x\") <script>alert(1)</script>", "这是公司规定，我也没办法。", "你烦不烦啊"]
BOOK = phrasebook()  # the built-in book, the same object the app rescores with


def play(store, user: str, persona_id: str, replies, days_ago: int = 0) -> str:
    """Play a call with the scripted caller and store it as the web app does; return its id."""
    row = store.get_persona(persona_id)
    call = CallSession(parse_persona_text(row["yaml"]), get_backend("scripted"), BOOK)
    sid = store.create_session(store.get_user_by_name(user)["id"], persona_id, row["version"], mode="practice")
    for reply in replies:
        "".join(call.caller_turn())
        if call.ended:
            break
        call.agent_turn(reply, at=call.turns[-1]["at"] + 1.0)
        if call.ended:
            break
    if not call.ended:
        call.end("input_closed")
    for i, turn in enumerate(call.turns):
        store.append_turn(sid, i, turn)
    store.finish_session(sid, call.report(), end_reason=call.end_reason.value)
    if days_ago:
        when = datetime.now(timezone.utc) - timedelta(days=days_ago)
        store.execute("UPDATE sessions SET started = ?, started_ts = ? WHERE id = ?",
                      (when.strftime("%Y-%m-%dT%H:%M:%SZ"), when.timestamp(), sid))
    return sid


@pytest.fixture
def calls(store):
    """Three finished calls: a careful one, a rude one (another trainee and group), an older one."""
    store.add_user("=cmd|' /C calc'!A0", role="trainee", password="pw-formula", group="二期")
    return {"good": play(store, "trainee", "angry-broadband", GOOD),
            "rude": play(store, "=cmd|' /C calc'!A0", "angry-broadband", RUDE),
            "old": play(store, "trainee2", "dialect-sichuan", ["喂", "你说啥？"], days_ago=15)}


def ids_of(page: str, calls) -> set[str]:
    return {name for name, sid in calls.items() if f"/supervisor/sessions/{sid}" in page}


ROLE_STATUS = {None: 302, "trainee": 403, "trainer": 403, "supervisor": 200, "admin": 200}


@pytest.mark.parametrize("path", ["/supervisor/", "/supervisor/?sort=score&dir=asc", "/supervisor/overview",
                                  "/supervisor/sessions.csv", "/supervisor/findings.csv",
                                  "/supervisor/sessions/{good}"])
@pytest.mark.parametrize("role", list(ROLE_STATUS))
def test_get_access(client, auth, calls, path, role):
    if role:
        auth.login_as(role)
    r = client.get(path.format(**calls))
    assert r.status_code == ROLE_STATUS[role]


@pytest.mark.parametrize("path", ["/supervisor/sessions/{good}/findings/1/override", "/supervisor/sessions/{good}/comment"])
@pytest.mark.parametrize("role", [None, "trainee", "trainer"])
def test_post_refused(client, auth, store, calls, path, role):
    if role:
        auth.login_as(role)
    r = auth.post(path.format(**calls), {"verdict": "dismissed", "comment": "x", "text": "x"})
    assert r.status_code == (302 if role is None else 403)
    assert store.rows("SELECT * FROM overrides") == [] and store.rows("SELECT * FROM comments") == []


def test_unknown_session_is_404(client, login_as):
    login_as("supervisor")
    assert client.get("/supervisor/sessions/nope").status_code == 404


def test_filters(client, login_as, store, calls):
    login_as("supervisor")
    rows = {name: store.get_session(sid) for name, sid in calls.items()}

    def shown(query):
        return ids_of(client.get("/supervisor/?" + query).get_data(as_text=True), calls)

    assert shown("") == set(calls)
    assert shown("trainee=trainee") == {"good"}
    assert shown("group=%E4%BA%8C%E6%9C%9F") == {"rude", "old"}           # 二期
    assert shown("persona=dialect-sichuan") == {"old"}
    today = datetime.now(timezone.utc).date()
    assert shown(f"date_from={today - timedelta(days=3)}") == {"good", "rude"}
    assert shown(f"date_to={today - timedelta(days=10)}") == {"old"}
    assert shown("result=fail") == {n for n, r in rows.items() if r["passed"] == 0}
    assert shown("result=pass") == {n for n, r in rows.items() if r["passed"] == 1}
    cut = sorted(r["score"] for r in rows.values())
    mid = (cut[0] + cut[-1]) / 2
    assert shown(f"score_min={mid}") == {n for n, r in rows.items() if r["score"] >= mid}
    assert shown(f"score_max={mid}") == {n for n, r in rows.items() if r["score"] <= mid}
    broken = store.rows("SELECT DISTINCT session_id FROM findings WHERE rule = 'forbidden.rule-is-rule' "
                        "AND verdict = 'violation'")
    assert broken and shown("rule=forbidden.rule-is-rule") == {n for n, s in calls.items()
                                                               if s in {b["session_id"] for b in broken}}
    # hostile values are parameters: no rows, no error, no damage
    assert shown("trainee=x%27%20OR%201%3D1%20--") == set()
    assert shown("score_min=abc&date_from=2026-13-99") == set(calls)       # malformed filters are ignored


def test_sorting_is_whitelisted(client, login_as, store, calls):
    login_as("supervisor")
    page = client.get("/supervisor/?sort=score&dir=asc").get_data(as_text=True)
    order = sorted(calls, key=lambda n: page.index(f"/supervisor/sessions/{calls[n]}"))
    scores = [store.get_session(calls[n])["score"] for n in order]
    assert scores == sorted(scores)
    page = client.get("/supervisor/?sort=score&dir=desc").get_data(as_text=True)
    order = sorted(calls, key=lambda n: page.index(f"/supervisor/sessions/{calls[n]}"))
    assert [store.get_session(calls[n])["score"] for n in order] == sorted(scores, reverse=True)
    r = client.get("/supervisor/?sort=score;DROP%20TABLE%20users&dir=sideways")
    assert r.status_code == 200 and ids_of(r.get_data(as_text=True), calls) == set(calls)
    assert store.get_user_by_name("trainee") is not None


def _csv(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")                              # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_sessions_csv_follows_filters_and_neutralises_formulas(client, login_as, store, calls):
    login_as("supervisor")
    rows = _csv(client, "/supervisor/sessions.csv")
    assert rows[0][:3] == ["通话ID", "学员", "学员组"]
    # ids are random and URL-safe: one starting with "-" is written as '-… like any other cell
    ids = {name: csvout.cell(sid) for name, sid in calls.items()}
    assert {r[0] for r in rows[1:]} == set(ids.values())
    rude = next(r for r in rows if r[0] == ids["rude"])
    assert rude[1] == "'=cmd|' /C calc'!A0"
    assert float(rude[10]) == store.get_session(calls["rude"])["score"]
    only = _csv(client, "/supervisor/sessions.csv?group=%E4%BA%8C%E6%9C%9F")
    assert {r[0] for r in only[1:]} == {ids["rude"], ids["old"]}


def test_findings_csv(client, login_as, store, calls):
    login_as("supervisor")
    rows = _csv(client, "/supervisor/findings.csv?trainee=trainee")
    stored = store.rows("SELECT * FROM findings WHERE session_id = ?", (calls["good"],))
    assert len(rows) - 1 == len(stored) and {r[0] for r in rows[1:]} == {csvout.cell(calls["good"])}
    rows = _csv(client, "/supervisor/findings.csv?persona=angry-broadband")
    evidence = [r[8] for r in rows[1:] if r[0] == csvout.cell(calls["rude"])]
    assert any(e.startswith("'=HYPERLINK") for e in evidence)
    cells = [c for r in rows for c in r]
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+41", "'+41"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=x", "'\t=x"),
    ("-Zx3_session-id", "'-Zx3_session-id"), ("正常文字", "正常文字"), (-5, "-5"), (72.5, "72.5"), (78.0, "78"), (None, ""), (True, "1"),
])
def test_csv_cell(value, expected):
    assert csvout.cell(value) == expected


def test_override_recomputes_score_and_records_who_and_when(client, auth, login_as, store, calls):
    login_as("supervisor")
    sid = calls["good"]
    before = store.get_session(sid)
    finding = next(f for f in store.findings(sid) if f["verdict"] in ("violation", "missing"))
    # without a comment: refused, nothing changes
    r = auth.post(f"/supervisor/sessions/{sid}/findings/{finding['id']}/override", {"verdict": "dismissed", "comment": "  "})
    assert r.status_code == 400 and "必须填写说明" in r.get_data(as_text=True)
    r = auth.post(f"/supervisor/sessions/{sid}/findings/{finding['id']}/override", {"verdict": "maybe", "comment": "x"})
    assert r.status_code == 400
    assert store.rows("SELECT * FROM overrides") == [] and store.get_session(sid)["score"] == before["score"]
    # with one: kept, and the score is recomputed from all findings
    r = auth.post(f"/supervisor/sessions/{sid}/findings/{finding['id']}/override",
                  {"verdict": "dismissed", "comment": "客户已经平静，<b>不算</b>"})
    assert r.status_code == 302
    expected = rescore([dict(f, override={"verdict": "dismissed"} if f["id"] == finding["id"] else None)
                        for f in store.findings(sid)], BOOK)
    after = store.get_session(sid)
    assert after["score"] == expected["score"] > before["score"]
    assert bool(after["passed"]) == expected["passed"]
    assert after["report"]["score"] == before["score"]                   # the original report is kept
    assert after["report"]["revised"]["score"] == expected["score"]
    ov = store.one("SELECT * FROM overrides")
    assert ov["by"] == store.get_user_by_name("supervisor")["id"] and ov["at"] and ov["verdict"] == "dismissed"
    page = client.get(f"/supervisor/sessions/{sid}").get_data(as_text=True)
    assert "驳回（不计分）" in page and "supervisor" in page and timefmt.when(ov["at"]) in page
    assert "&lt;b&gt;不算&lt;/b&gt;" in page and "<b>不算</b>" not in page
    assert f"系统原始得分 {before['report']['score']}" in page
    # upholding it again restores the original score; both stay in the history
    r = auth.post(f"/supervisor/sessions/{sid}/findings/{finding['id']}/override", {"verdict": "violation", "comment": "再看一遍，算"})
    assert r.status_code == 302 and store.get_session(sid)["score"] == before["score"]
    assert len(store.rows("SELECT * FROM overrides")) == 2
    # a finding of another call is not found through this one
    other = store.findings(calls["rude"])[0]
    assert auth.post(f"/supervisor/sessions/{sid}/findings/{other['id']}/override",
                     {"verdict": "dismissed", "comment": "x"}).status_code == 404


def test_upholding_an_ok_finding_costs_points(auth, login_as, store, calls):
    login_as("supervisor")
    sid = calls["good"]
    ok = next(f for f in store.findings(sid) if f["verdict"] == "ok" and f["dimension"])
    before = store.get_session(sid)["score"]
    r = auth.post(f"/supervisor/sessions/{sid}/findings/{ok['id']}/override", {"verdict": "violation", "comment": "其实没做到"})
    assert r.status_code == 302 and store.get_session(sid)["score"] < before


def test_comment_is_kept_escaped_and_rendered_for_the_trainee(app, client, auth, login_as, store, calls):
    login_as("supervisor")
    sid = calls["good"]
    assert auth.post(f"/supervisor/sessions/{sid}/comment", {"text": "   "}).status_code == 400
    r = auth.post(f"/supervisor/sessions/{sid}/comment", {"text": "开场很好 <script>alert(1)</script>"})
    assert r.status_code == 302
    page = client.get(f"/supervisor/sessions/{sid}").get_data(as_text=True)
    assert "开场很好 &lt;script&gt;" in page and "<script>alert(1)" not in page
    # the partial the trainee's report includes
    from flask import render_template_string
    with app.test_request_context():
        html = render_template_string('{% with notes = review_notes(sid) %}{% include "supervisor/_review_notes.html" %}{% endwith %}', sid=sid)
    assert "质检主管的复核" in html and "开场很好 &lt;script&gt;" in html


def test_transcript_evidence_is_highlighted_and_escaped(client, login_as, calls):
    login_as("supervisor")
    page = client.get(f"/supervisor/sessions/{calls['rude']}").get_data(as_text=True)
    assert "<mark>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("text,findings,expected", [
    ("这是公司规定，我也没办法", [{"verdict": "violation", "span": [0, 6], "evidence": "这是公司规定"}],
     "<mark>这是公司规定</mark>，我也没办法"),
    ("a<b>c", [{"verdict": "violation", "span": [1, 4]}], "a<mark>&lt;b&gt;</mark>c"),
    ("abcdef", [{"verdict": "violation", "span": [0, 3]}, {"verdict": "violation", "span": [2, 5]}], "<mark>abcde</mark>f"),
    ("abcdef", [{"verdict": "missing", "span": [0, 6], "evidence": "abcdef"}], "abcdef"),
    ("abc", [{"verdict": "ok", "span": [0, 3]}], "abc"),
    ("abc<", [{"verdict": "violation", "span": [9, 12], "evidence": "c<"}], "ab<mark>c&lt;</mark>"),
])
def test_highlight(text, findings, expected):
    assert str(highlight(text, findings)) == expected


def test_overview_numbers_and_charts(client, login_as, store, calls):
    login_as("supervisor")
    r = client.get("/supervisor/overview")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert page.count("<svg") == 4
    rows = [store.get_session(s) for s in calls.values()]
    rate = round(100 * sum(1 for x in rows if x["passed"]) / len(rows), 1)
    assert f"通过率 <strong>{rate}%</strong>" in page
    assert "forbidden.rule-is-rule" in page
    weeks = {timefmt.local_date(x["started"]).isocalendar()[:2] for x in rows}
    assert all(f"{y}-W{w:02d}" in page for y, w in weeks) and len(weeks) >= 2
    assert "=cmd|&#39; /C calc&#39;!A0</text>" in page                    # SVG labels are escaped text
    filtered = client.get("/supervisor/overview?group=%E4%B8%80%E6%9C%9F").get_data(as_text=True)
    assert "已评分通话 <strong>1</strong>" in filtered


def test_every_staff_route_refuses_trainees_and_strangers(app, client, auth):
    """Guards future routes too: each URL rule of the trainer and supervisor blueprints."""
    args = {"persona_id": "angry-broadband", "session_id": "x", "finding_id": 1, "assignment_id": 1}
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in ("trainer", "supervisor")]
    assert len(rules) >= 15
    for who in (None, "trainee"):
        if who:
            auth.login_as(who)
        for rule in rules:
            url = rule.build({k: v for k, v in args.items() if k in rule.arguments})[1]
            for method in sorted(rule.methods & {"GET", "POST"}):
                r = auth.post(url) if method == "POST" else client.get(url)
                assert r.status_code == (302 if who is None else 403), (who, method, url)


@pytest.mark.parametrize("zone,shown", [(None, "2025-03-10 01:00"), ("UTC", "2025-03-09 17:00")])
def test_times_and_date_filters_use_the_display_zone(app, client, login_as, store, calls, zone, shown):
    """A call at 17:00 UTC on 03-09 is 01:00 on 03-10 in Shanghai: shown and filtered as such."""
    if zone:
        app.config["DISPLAY_TZ"] = zone
    store.execute("UPDATE sessions SET started = '2025-03-09T17:00:00Z' WHERE id = ?", (calls["good"],))
    login_as("supervisor")
    page = client.get("/supervisor/?trainee=trainee").get_data(as_text=True)
    assert shown in page
    day = shown[:10]
    assert ids_of(client.get(f"/supervisor/?date_from={day}&date_to={day}").get_data(as_text=True), calls) == {"good"}
    other = "2025-03-09" if day == "2025-03-10" else "2025-03-10"
    assert "good" not in ids_of(client.get(f"/supervisor/?date_from={other}&date_to={other}").get_data(as_text=True), calls)
