"""Trainer, supervisor and admin pages in headless Chromium under the real Content-Security-Policy:
the editor's error jump and preview call (trainer.js), the review page's override form, the
admin's accounts page.
Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

# fixtures ``page``, ``screenshot`` and ``login`` come from tests/browser/conftest.py


def test_trainer_preview_call_and_error_line(page, screenshot, login, store):
    pg = page
    login(pg, "trainer")
    pg.goto(pg.base + "/trainer/personas/angry-broadband")
    text = pg.input_value("#yaml")
    pg.fill("#yaml", text.replace("喂！你们宽带到底还修不修了？三天了都没网！", "<b>草稿开场</b>"))
    pg.click("#preview-start")
    first = pg.locator("#preview-log .line.caller .bubble").first
    first.wait_for()
    assert first.inner_text()                      # the draft's caller speaks
    pg.fill("#preview-text", "您好，星海宽带，请问有什么可以帮您？")
    pg.keyboard.press("Enter")
    pg.locator("#preview-log .line.caller").nth(1).wait_for()
    assert pg.locator("#preview-log .finding").count() >= 1
    assert "情绪" in pg.inner_text("#preview-mood")
    screenshot("trainer-preview")
    assert store.rows("SELECT id FROM sessions") == []
    # a broken draft: the save shows the line, clicking the error selects that line in the YAML
    pg.fill("#yaml", text.replace("difficulty: medium", "difficulty: [medium"))
    pg.click("#persona-form button[type=submit]")
    pg.locator("#persona-error").wait_for()
    line = int(pg.get_attribute("#persona-error", "data-line"))
    pg.click("#persona-error")
    selected = pg.evaluate("() => { const t = document.getElementById('yaml');"
                           " return t.value.slice(t.selectionStart, t.selectionEnd); }")
    assert selected == pg.input_value("#yaml").split("\n")[line - 1]
    screenshot("trainer-editor-error")
    pg.goto(pg.base + "/trainer/phrasebook")
    assert pg.locator("article.rule").count() > 10
    screenshot("trainer-phrasebook", full_page=False)
    assert pg.problems == []


def test_supervisor_overrides_a_finding(page, screenshot, login, store):
    from test_web_supervisor import GOOD, play  # tests/ is on sys.path (rootdir conftest)
    sid = play(store, "trainee", "angry-broadband", GOOD)
    before = store.get_session(sid)["score"]
    pg = page
    login(pg, "supervisor")
    pg.goto(pg.base + f"/supervisor/sessions/{sid}")
    box = pg.locator(".finding.missing").first
    assert box.locator("details.override").get_attribute("open") is not None
    box.locator("textarea[name=comment]").fill("客户已经平静，不算")
    box.locator("button[type=submit]").click()
    pg.wait_for_selector(".flash")
    assert "重新计分" in pg.inner_text(".flash")
    assert store.get_session(sid)["score"] > before
    assert "系统原始得分" in pg.inner_text("#score-revised")
    screenshot("supervisor-review")
    pg.goto(pg.base + "/supervisor/overview")
    assert pg.locator("svg.chart").count() == 4
    screenshot("supervisor-overview")
    assert pg.problems == []


def test_admin_adds_a_trainee_and_sees_the_password_once(page, screenshot, login, store):
    pg = page
    login(pg, "admin", landing="**/supervisor/")
    pg.click("header nav >> text=账号管理")
    pg.wait_for_url("**/admin/users")
    form = pg.locator("#add-user")
    form.locator("input[name=name]").fill("王芳")
    form.locator("input[name=role][value=trainee]").check()
    assert form.locator("input[name=role]:checked").count() == 1
    form.locator("input[name=group_name]").fill("2026-11期")
    form.locator("button[type=submit]").click()
    password = pg.locator("#new-password").inner_text()
    assert len(password) >= 12 and pg.inner_text("#new-name") == "王芳"
    screenshot("admin-new-password")
    assert store.check_password("王芳", password)["group_name"] == "2026-11期"
    pg.click("text=返回账号管理")
    row = pg.locator("tr", has_text="王芳")
    assert "从未登录" in row.inner_text() and password not in pg.content()
    asked = []
    pg.on("dialog", lambda d: (asked.append(d.message), d.accept()))
    pg.locator("tr", has_text="trainee2").locator("button", has_text="停用").click()
    pg.wait_for_selector(".flash")
    assert "已停用账号“trainee2”" in pg.inner_text(".flash")
    assert "已停用" in pg.locator("tr", has_text="trainee2").inner_text()
    assert store.get_user_by_name("trainee2")["disabled"] == 1 and "停用“trainee2”" in asked[0]
    screenshot("admin-users")
    assert pg.problems == []
