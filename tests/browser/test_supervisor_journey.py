"""A supervisor's whole journey in headless Chromium: filter the graded calls, open one, override a
finding (a comment is required), see the score recomputed and the override signed, export CSV.

The calls are real: the scripted caller plays shipped personas against fixed replies, the real
phrasebook grades them, and they are stored the way the web app stores them.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import datetime, timedelta, timezone

import pytest

from simulator.callers import get_backend
from simulator.grading import load_phrasebook, rescore
from simulator.personas import parse_persona_text
from simulator.session import CallSession

pytestmark = pytest.mark.browser

CAREFUL = ["您好，星海宽带，请问有什么可以帮您？", "您消消气，我理解您的心情，非常抱歉给您带来不便。请问您贵姓？",
           "张先生，请问您的宽带账号是多少？", "好的张先生，请问您的地址是？", "张先生，请问您的联系电话是？",
           "好的张先生，我马上为您登记，今天下午两小时内安排师傅上门。", "请问您还有其它问题吗？",
           "感谢您的来电，请您先挂机，再见！"]
CURT = ["您好，星海宽带，请问有什么可以帮您？", "这是公司规定，我也没办法。", "你烦不烦啊"]
SHORT = ["喂", "你说啥？"]
RULE = "forbidden.rule-is-rule"
COMMENT = "客户问的确实是公司规定，坐席语气平和，此条驳回。"


def play(store, book, user: str, persona_id: str, replies, days_ago: int = 0) -> str:
    """One call played by the scripted caller, graded live, stored turn by turn; its id."""
    row = store.get_persona(persona_id)
    ticks = itertools.count(0.0, 1.2)  # a steady clock: each look at it is 1.2 s later
    call = CallSession(parse_persona_text(row["yaml"]), get_backend("scripted"), book,
                       clock=lambda: next(ticks))
    sid = store.create_session(store.get_user_by_name(user)["id"], persona_id, row["version"], mode="practice")
    for reply in replies:
        "".join(call.caller_turn())
        if call.ended:
            break
        call.agent_turn(reply)
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
    """Four graded calls over two groups (一期: trainee, 二期: trainee2) and two personas."""
    book = load_phrasebook()
    return {"careful": play(store, book, "trainee", "angry-broadband", CAREFUL),
            "curt": play(store, book, "trainee2", "angry-broadband", CURT),
            "short1": play(store, book, "trainee", "dialect-sichuan", SHORT, days_ago=3),
            "short2": play(store, book, "trainee2", "dialect-sichuan", SHORT, days_ago=10)}


def listed(pg, calls) -> set[str]:
    """Names of the calls whose review link is in the sessions table."""
    hrefs = pg.locator("table tbody a[href*='/supervisor/sessions/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    return {name for name, sid in calls.items() if any(h.endswith("/" + sid) for h in hrefs)}


def filter_by(pg, **choices):
    """Pick values in the filter form and submit it (a GET: the URL carries the filters)."""
    for name, value in choices.items():
        pg.select_option(f"form.filters select[name={name}]", value)
    with pg.expect_navigation():
        pg.click("form.filters button[type=submit]")


def override_form(box):
    """The finding's override form, unfolded when the page folds it away."""
    folded = box.locator("details.override:not([open]) > summary")
    if folded.count():
        folded.click()
    return box.locator("form.override-form")


def test_supervisor_filters_overrides_and_exports(page, login, screenshot, store, calls):
    pg = login(page, "supervisor")
    assert listed(pg, calls) == set(calls)
    assert "共 4 条" in pg.locator("main").inner_text()

    # 1. Filters: a group, then a persona within it.
    filter_by(pg, group="二期")
    assert "group=" in pg.url and listed(pg, calls) == {"curt", "short2"}
    assert set(pg.locator("table tbody tr td:nth-child(2)").all_inner_texts()) == {"trainee2"}
    filter_by(pg, persona="angry-broadband")
    assert listed(pg, calls) == {"curt"}
    assert "共 1 条" in pg.locator("main").inner_text()
    screenshot("supervisor-sessions-filtered")

    # 2. Open the call.
    sid = calls["curt"]
    before = store.get_session(sid)
    pg.click(f"table tbody a[href$='/supervisor/sessions/{sid}']")
    pg.wait_for_url(f"**/supervisor/sessions/{sid}")
    assert pg.locator(".score-big").inner_text().strip() == str(round(before["score"]))
    assert "这是公司规定" in pg.locator(".transcript").inner_text()
    target = next(f for f in store.findings(sid) if f["rule"] == RULE and f["verdict"] == "violation")
    box = pg.locator(f"#f{target['id']}")
    shown = box.inner_text()
    assert RULE in shown or load_phrasebook().rule(RULE).title in shown
    assert "公司规定" in box.locator("mark").first.inner_text()  # the evidence is marked

    # 3. An override without a comment is refused: first by the form, then (blank) by the server.
    form = override_form(box)
    form.locator("select[name=verdict]").select_option("dismissed")
    form.locator("button[type=submit]").click()
    assert pg.url.endswith(f"/supervisor/sessions/{sid}")
    assert form.locator("textarea[name=comment]").evaluate("t => t.validationMessage") != ""
    form.locator("textarea[name=comment]").fill("   ")
    with pg.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "复核必须填写说明" in pg.locator("#review-error").inner_text()
    assert store.rows("SELECT id FROM overrides") == []
    assert store.get_session(sid)["score"] == before["score"]

    # 4. With a comment: recorded with who and when, the score recomputed.
    form = override_form(pg.locator(f"#f{target['id']}"))
    form.locator("select[name=verdict]").select_option("dismissed")
    form.locator("textarea[name=comment]").fill(COMMENT)
    with pg.expect_navigation():
        form.locator("button[type=submit]").click()
    after = store.get_session(sid)
    expected = rescore(store.findings(sid), load_phrasebook())["score"]
    assert after["score"] == expected and after["score"] > before["score"]
    assert f"重新计分：{round(expected)} 分" in pg.locator(".flash").inner_text()
    assert pg.locator(".score-big").inner_text().strip() == str(round(expected))
    assert f"系统原始得分 {round(before['score'])}" in pg.locator("#score-revised").inner_text()
    note = pg.locator(f"#f{target['id']} .override-now")
    override = store.findings(sid)
    override = next(f for f in override if f["id"] == target["id"])["override"]
    assert override["verdict"] == "dismissed" and override["by_name"] == "supervisor"
    assert "驳回" in note.inner_text() and "supervisor" in note.inner_text()
    from webui.staff.timefmt import when  # times are shown local, "YYYY-MM-DD HH:MM"
    assert COMMENT in note.inner_text() and when(override["at"]) in note.inner_text()
    screenshot("supervisor-review-override")

    # 5. CSV of the filtered list (group 二期): header + exactly those calls, Chinese intact.
    pg.click("nav.subnav >> text=通话记录")
    pg.wait_for_url("**/supervisor/")
    filter_by(pg, group="二期")
    with pg.expect_download() as dl:
        pg.click("text=导出通话 CSV")
    raw = open(dl.value.path(), "rb").read()
    assert raw.startswith("\ufeff".encode("utf-8"))  # Excel opens Chinese
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["通话ID", "学员", "学员组", "角色"] and "得分" in header
    col = {name: header.index(name) for name in header}
    assert {r[col["通话ID"]] for r in body} == {calls["curt"], calls["short2"]}
    assert {r[col["学员组"]] for r in body} == {"二期"}
    curt = next(r for r in body if r[col["通话ID"]] == sid)
    assert curt[col["角色标题"]] == store.get_persona("angry-broadband")["title"]
    assert float(curt[col["得分"]]) == expected
    assert curt[col["是否通过"]] in ("是", "否")
    screenshot("supervisor-sessions-export")

    # 6. The team overview for the same group counts the recomputed score.
    pg.click("nav.subnav >> text=团队概览")
    pg.wait_for_url("**/supervisor/overview")
    filter_by(pg, group="二期")
    scores = [store.get_session(calls[n])["score"] for n in ("curt", "short2")]
    summary = pg.locator("main .score-line").first.inner_text()
    assert "已评分通话 2" in summary
    shown = re.search(r"平均分\s*([\d.]+)", summary)
    assert shown and float(shown.group(1)) == round(sum(scores) / 2, 1)
    assert pg.locator("main svg").count() >= 3 and "trainee2" in pg.locator("main").inner_text()
    screenshot("supervisor-overview")
    assert pg.problems == []
