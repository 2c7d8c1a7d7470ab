"""A trainee takes a whole call in headless Chromium: streamed caller lines, hints, reload, report.

Runs the real page JavaScript under the real Content-Security-Policy (so the page must not need
inline scripts or eval). Fixtures (``page``, ``login``, ``screenshot``) are in tests/browser/conftest.py.
"""

from __future__ import annotations


def caller_lines(pg, n):
    """Wait until ``n`` caller lines are complete on the page."""
    pg.locator(".line.caller").nth(n - 1).wait_for()
    pg.wait_for_selector(".line.speaking", state="detached")
    return pg.locator(".line.caller .bubble").all_inner_texts()


def test_a_practice_call_in_the_browser(page, store, login, screenshot):
    pg = page
    login(pg, "trainee")
    pg.locator(".persona-card", has_text="宽带断网三天的愤怒客户").locator("button").click()
    pg.wait_for_url("**/call/*")
    sid = pg.url.rsplit("/", 1)[1]
    first = caller_lines(pg, 1)
    assert first[0] == store.turns(sid)[0]["text"]

    pg.fill("#reply-text", "您好，星海宽带，请问有什么可以帮您？<b>x</b>")
    pg.press("#reply-text", "Enter")
    caller_lines(pg, 2)
    assert pg.locator(".line.agent .bubble").first.inner_text().endswith("<b>x</b>")  # shown as text
    # the caller is angry now; going straight to business without soothing earns a live hint
    pg.fill("#reply-text", "请问您的宽带账号是多少？")
    pg.press("#reply-text", "Enter")
    lines = caller_lines(pg, 3)
    pg.locator("#hints .hint-item").first.wait_for()  # practice mode: live hints
    assert "消消气" in pg.locator("#hints").inner_text()
    assert pg.locator("#clock").inner_text().isdigit()  # counting since the caller's line ended
    screenshot("trainee-call", full_page=False)

    pg.reload()  # a lost connection or a reload renders the stored call and goes on
    assert pg.locator(".line.caller .bubble").all_inner_texts() == lines
    assert pg.locator(".line.agent").count() == 2
    pg.on("dialog", lambda d: d.accept())
    pg.click("#hangup")
    pg.wait_for_url(f"**/report/{sid}")
    assert "分" in pg.locator(".score-big").inner_text()
    assert pg.locator(".finding").count() >= 1
    screenshot("trainee-report")
    assert store.get_session(sid)["status"] == "ended"
    assert pg.problems == []


def test_an_exam_call_shows_no_hints(page, store, login):
    store.add_assignment("angry-broadband", mode="exam", pass_mark=60, group_name="一期", due="2099-12-31")
    pg = page
    login(pg, "trainee")
    pg.click("text=开始考试")
    pg.wait_for_url("**/call/*")
    caller_lines(pg, 1)
    pg.fill("#reply-text", "您好，星海宽带，请问有什么可以帮您？")
    pg.press("#reply-text", "Enter")
    caller_lines(pg, 2)
    assert pg.locator("#hints").count() == 0 and "考试不显示提示" in pg.content()
    assert pg.problems == []
