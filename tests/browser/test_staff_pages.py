"""Trainer and supervisor pages in headless Chromium under the real Content-Security-Policy:
the editor's error jump and preview call (trainer.js), the review page's override form.
Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def page(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1300, "height": 1000})
        pg.set_default_timeout(20_000)
        pg.problems = []
        pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
        pg.on("pageerror", lambda e: pg.problems.append(str(e)))
        pg.base = live_server
        yield pg
        browser.close()


def login(pg, name, password):
    pg.goto(pg.base + "/auth/login")
    pg.fill("input[name=name]", name)
    pg.fill("input[name=password]", password)
    pg.click("main button[type=submit]")
    pg.wait_for_load_state()


def test_trainer_preview_call_and_error_line(page, store):
    pg = page
    login(pg, "trainer", "pw-trainer-1")
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
    pg.screenshot(path=str(ARTIFACTS / "trainer-preview.png"), full_page=True)
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
    pg.screenshot(path=str(ARTIFACTS / "trainer-editor-error.png"), full_page=True)
    assert [p for p in pg.problems if "status of 400" not in p] == []   # the refused save is a 400


def test_supervisor_overrides_a_finding(page, store):
    from tests.test_web_supervisor import GOOD, play
    sid = play(store, "trainee", "angry-broadband", GOOD)
    before = store.get_session(sid)["score"]
    pg = page
    login(pg, "supervisor", "pw-supervisor-1")
    pg.goto(pg.base + f"/supervisor/sessions/{sid}")
    box = pg.locator(".finding.missing").first
    assert box.locator("details.override").get_attribute("open") is not None
    box.locator("textarea[name=comment]").fill("客户已经平静，不算")
    box.locator("button[type=submit]").click()
    pg.wait_for_selector(".flash")
    assert "重新计分" in pg.inner_text(".flash")
    assert store.get_session(sid)["score"] > before
    assert "系统原始得分" in pg.inner_text("#score-revised")
    pg.screenshot(path=str(ARTIFACTS / "supervisor-review.png"), full_page=True)
    pg.goto(pg.base + "/supervisor/overview")
    assert pg.locator("svg.chart").count() == 4
    pg.screenshot(path=str(ARTIFACTS / "supervisor-overview.png"), full_page=True)
    assert pg.problems == []
