"""A trainer's whole journey in headless Chromium: write a persona, get told exactly what is wrong,
fix it, save it, try it in the preview call, assign it to a group as an exam; the group's
trainee sees the exam, a trainee of another group does not.

Everything goes through the real pages and their JavaScript (under the real CSP); the store is
checked afterwards so the page cannot merely look right.
"""

from __future__ import annotations

import re

import pytest
import yaml

from simulator.grading import load_phrasebook

pytestmark = pytest.mark.browser

PID = "browser-caller"
TITLE = "浏览器里写的话费客户"


def set_line(text: str, key: str, value, before: str | None = None) -> str:
    """``text`` with the first line ``key: …`` set to ``value`` (or a line inserted before it)."""
    pattern = re.compile(rf"^{key}:[^\n]*$", re.M)
    m = pattern.search(text)
    assert m, f"the starter YAML has no {key.strip()}: line"
    new = f"{before}\n{m.group(0)}" if before is not None else f"{key}: {value}"
    return text[:m.start()] + new + text[m.end():]


def finding(pg, rule_id: str):
    """The preview's finding box for a rule, shown by its Chinese title (or its id)."""
    title = load_phrasebook().rule(rule_id).title
    return pg.locator("#preview-log .finding").filter(
        has_text=re.compile(f"{re.escape(title)}|{re.escape(rule_id)}"))


def caller_lines(pg, n):
    """Wait for the n-th caller line of the preview call; all caller lines so far."""
    pg.locator("#preview-log .line.caller").nth(n - 1).wait_for()
    return pg.locator("#preview-log .line.caller .bubble").all_inner_texts()


def test_trainer_writes_previews_and_assigns_a_persona(page, login, screenshot, store):
    pg = login(page, "trainer")
    assert "角色库" in pg.locator("nav.subnav").inner_text()
    pg.click("nav.subnav >> text=新建角色")
    pg.wait_for_url("**/trainer/personas/new")

    # 1. A YAML with an unknown key: the error names the line and shows it marked.
    starter = pg.input_value("#yaml")
    draft = set_line(set_line(set_line(starter, "id", PID), "title", TITLE), "  start", "4")
    bad_key = set_line(draft, "goal", None, before="moood: 3")
    bad_line = bad_key.split("\n").index("moood: 3") + 1
    pg.fill("#yaml", bad_key)
    pg.click("#persona-form button[type=submit]")
    err = pg.locator("#persona-error")
    err.wait_for()
    assert err.get_attribute("data-line") == str(bad_line)
    assert f"第 {bad_line} 行" in err.inner_text() and "moood" in err.inner_text()
    assert "moood: 3" in err.locator(".bad-line").inner_text()
    assert pg.input_value("#yaml") == bad_key  # nothing typed is lost
    err.click()  # jumps to the line: the textarea's selection is that line
    selected = pg.evaluate("() => { const t = document.getElementById('yaml');"
                           " return t.value.slice(t.selectionStart, t.selectionEnd); }")
    assert selected == "moood: 3"
    screenshot("trainer-persona-error-line")

    # 2. mood.start out of range: the error sits beside the form field it belongs to.
    pg.fill("#yaml", set_line(draft, "  start", "15"))
    pg.click("#persona-form button[type=submit]")
    pg.locator("#persona-error").wait_for()
    field = pg.locator("label.field-error")
    assert field.count() == 1
    assert "初始情绪" in field.inner_text() and field.locator(".error-text").count() == 1
    assert pg.input_value("input[name=mood_start]") == "15"
    assert "mood.start" in pg.locator("#persona-error").inner_text()
    assert store.get_persona(PID) is None  # a refused save stores nothing
    screenshot("trainer-persona-error-field")

    # 3. Fix it in the form (the form wins over the YAML for the field changed) and save.
    pg.fill("input[name=mood_start]", "6")
    pg.click("#persona-form button[type=submit]")
    pg.wait_for_url(f"**/trainer/personas/{PID}")
    assert "已保存为新版本 v1" in pg.locator(".flash").inner_text()
    assert pg.locator("#persona-error").count() == 0
    saved = store.get_persona(PID)
    assert saved["version"] == 1 and saved["title"] == TITLE
    data = yaml.safe_load(saved["yaml"])
    assert data["mood"]["start"] == 6 and data["caller"]["surname"] == "王" and "moood" not in data
    assert "start: 6" in pg.input_value("#yaml")

    # 4. Preview call against the draft: a caller line, a reply, its grade, the next line.
    persona_lines = {line for group in data["lines"].values() for line in group}
    pg.click("#preview-start")
    first = caller_lines(pg, 1)
    assert first == [data["lines"]["open"][0]]
    assert pg.locator("#preview-mood").inner_text() == "情绪 6/10"  # the saved mood.start
    pg.fill("#preview-text", "您好，星海宽带，请问有什么可以帮您？")
    pg.press("#preview-text", "Enter")
    lines = caller_lines(pg, 2)
    assert lines[1] in persona_lines and lines[1] != lines[0]
    assert pg.locator("#preview-log .line.agent .bubble").inner_text() == "您好，星海宽带，请问有什么可以帮您？"
    graded = finding(pg, "opening.greeting")
    assert graded.count() == 1 and "ok" in graded.get_attribute("class").split()
    assert "做到" in graded.inner_text()
    pg.fill("#preview-text", "这是公司规定，我也没办法。")
    pg.press("#preview-text", "Enter")
    fault = finding(pg, "forbidden.rule-is-rule")
    fault.wait_for()
    assert "violation" in fault.get_attribute("class").split() and "违规" in fault.inner_text()
    assert "标准话术" in fault.inner_text()
    screenshot("trainer-preview-call")
    assert store.rows("SELECT id FROM sessions") == []  # a preview stores no call

    # 5. Assign the saved persona to a group as an exam; it is listed.
    pg.click("nav.subnav >> text=布置任务")
    pg.wait_for_url("**/trainer/assignments")
    pg.select_option("select[name=persona_id]", PID)
    pg.check("input[name=mode][value=exam]")
    pg.fill("input[name=pass_mark]", "80")
    pg.fill("input[name=due]", "2026-12-31")
    pg.select_option("select[name=group_name]", "一期")
    pg.click("form.assign-form button[type=submit]")
    pg.wait_for_url("**/trainer/assignments")
    assert f"已布置“{TITLE}”" in pg.locator(".flash").inner_text()
    row = pg.locator("tbody tr", has_text=TITLE)
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert PID in cells[0] and cells[1] == "考试" and cells[2] in ("80", "80.0")
    assert cells[3] == "组：一期" and cells[4] == "2026-12-31"
    got = store.rows("SELECT persona_id, version, mode, pass_mark, group_name, due FROM assignments")
    assert got == [{"persona_id": PID, "version": 1, "mode": "exam", "pass_mark": 80.0,
                    "group_name": "一期", "due": "2026-12-31"}]
    screenshot("trainer-assignments")

    # 6. The library lists it at v1; a trainee of 一期 sees the exam, trainee2 (二期) does not.
    pg.click("nav.subnav >> text=角色库")
    pg.wait_for_url("**/trainer/")
    lib_row = pg.locator("tbody tr", has_text=PID)
    assert lib_row.count() == 1 and TITLE in lib_row.inner_text() and "v1" in lib_row.inner_text()
    assert pg.problems == []
    for trainee, sees in (("trainee", True), ("trainee2", False)):
        with pg.expect_navigation():
            pg.click("header .who button")  # 退出
        login(pg, trainee)
        todo = pg.locator("tr", has_text=TITLE)
        assert todo.count() == (1 if sees else 0), trainee
        if sees:
            assert "考试" in todo.inner_text() and "2026-12-31" in todo.inner_text()
            assert todo.locator("button", has_text="开始考试").count() == 1
            screenshot("trainer-assignment-seen-by-trainee")
    assert pg.problems == []
