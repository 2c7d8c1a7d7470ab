"""A trainee takes a whole call in headless Chromium: streamed caller lines, hints, reload, report.

Runs the real page JavaScript under the real Content-Security-Policy (so the page must not need
inline scripts or eval). Screenshots land in tests/artifacts/.
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
        pg = browser.new_page(viewport={"width": 1200, "height": 900})
        pg.set_default_timeout(20_000)
        pg.problems = []
        pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
        pg.on("pageerror", lambda e: pg.problems.append(str(e)))
        pg.base = live_server
        yield pg
        browser.close()


def login(pg, name="trainee", password="pw-trainee-1"):
    pg.goto(pg.base + "/auth/login")
    pg.fill("input[name=name]", name)
    pg.fill("input[name=password]", password)
    pg.click("main button[type=submit]")
    pg.wait_for_url("**/practice")


def caller_lines(pg, n):
    """Wait until ``n`` caller lines are complete on the page."""
    pg.locator(".line.caller").nth(n - 1).wait_for()
    pg.wait_for_selector(".line.speaking", state="detached")
    return pg.locator(".line.caller .bubble").all_inner_texts()


def test_a_practice_call_in_the_browser(page, store):
    pg = page
    login(pg)
    pg.locator(".persona-card", has_text="宽带断网三天的愤怒客户").locator("button").click()
    pg.wait_for_url("**/call/*")
    sid = pg.url.rsplit("/", 1)[1]
    first = caller_lines(pg, 1)
    assert first[0] == store.turns(sid)[0]["text"]

    pg.fill("#reply-text", "您好，星海宽带，请问有什么可以帮您？<b>x</b>")
    pg.press("#reply-text", "Enter")
    lines = caller_lines(pg, 2)
    assert pg.locator(".line.agent .bubble").first.inner_text().endswith("<b>x</b>")  # shown as text
    pg.locator("#hints .hint-item").first.wait_for()  # practice mode: live hints
    pg.screenshot(path=str(ARTIFACTS / "trainee-call.png"))

    pg.reload()  # a lost connection or a reload renders the stored call and goes on
    assert pg.locator(".line.caller .bubble").all_inner_texts() == lines
    assert pg.locator(".line.agent").count() == 1
    pg.on("dialog", lambda d: d.accept())
    pg.click("#hangup")
    pg.wait_for_url(f"**/report/{sid}")
    assert "分" in pg.locator(".score-big").inner_text()
    assert pg.locator(".finding").count() >= 1
    pg.screenshot(path=str(ARTIFACTS / "trainee-report.png"), full_page=True)
    assert store.get_session(sid)["status"] == "ended"
    assert pg.problems == []


def test_an_exam_call_shows_no_hints(page, store):
    store.add_assignment("angry-broadband", mode="exam", pass_mark=60, group_name="一期", due="2026-12-31")
    pg = page
    login(pg)
    pg.click("text=开始考试")
    pg.wait_for_url("**/call/*")
    caller_lines(pg, 1)
    pg.fill("#reply-text", "您好，星海宽带，请问有什么可以帮您？")
    pg.press("#reply-text", "Enter")
    caller_lines(pg, 2)
    assert pg.locator("#hints").count() == 0 and "考试不显示提示" in pg.content()
    assert pg.problems == []
