"""Shared browser fixtures: Debian's headless Chromium driven by Playwright against ``live_server``.

Never downloads a browser: it launches /usr/bin/chromium (``make test`` installs it) with flags
that keep it off the network and the GPU. ``page`` collects console errors and uncaught page
errors in ``page.problems`` so a journey can assert the page ran cleanly; ``screenshot(name)``
keeps a PNG in tests/artifacts/ (CI uploads that folder); ``login(page, name)`` goes through the
real login form.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from webhelpers import USERS

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else (shutil.which("chromium") or "")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT_MS = 20_000
# The accounts tests/conftest.py seeds (name -> password).
PASSWORDS = {name: password for name, (_role, _group, password) in USERS.items()}
# Where each role lands after logging in.
LANDING = {"trainee": "**/practice", "trainee2": "**/practice", "trainer": "**/trainer/",
           "supervisor": "**/supervisor/"}


def pytest_collection_modifyitems(items):
    """Every test under tests/browser is a browser test, skipped where there is no chromium."""
    here = Path(__file__).resolve().parent
    skip = pytest.mark.skip(reason="needs Debian's chromium at /usr/bin/chromium")
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM:
                item.add_marker(skip)


@pytest.fixture
def browser():
    """One headless Chromium per test (a fresh profile; cheap next to the journeys themselves)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, live_server):
    """A page on the live app: ``page.base`` is its URL, ``page.problems`` the JS errors seen."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                              accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.problems = []

    def on_console(m):
        if m.type != "error" or "favicon" in m.text:
            return
        url = (m.location or {}).get("url", "")
        if m.text.startswith("Failed to load resource") and url.split("#")[0] == pg.url.split("#")[0]:
            return  # the page itself came back 4xx on purpose (a refused form re-rendered)
        pg.problems.append(f"{m.text} ({url})" if url else m.text)

    pg.on("console", on_console)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.base = live_server
    yield pg
    ctx.close()


@pytest.fixture
def screenshot(page):
    """``screenshot(name, full_page=True)`` -> the PNG's path under tests/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, pg=None, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '-', name)}.png"
        (pg or page).screenshot(path=str(path), full_page=full_page)
        return path

    return take


def login(pg, name: str, password: str | None = None, landing: str | None = None):
    """Log in through the real form and wait for the role's home page."""
    pg.goto(pg.base + "/auth/login")
    pg.fill("input[name=name]", name)
    pg.fill("input[name=password]", password if password is not None else PASSWORDS[name])
    pg.click("main button[type=submit]")
    pg.wait_for_url(landing or LANDING.get(name, "**"))
    return pg


@pytest.fixture(name="login")
def login_fixture():
    """The ``login`` helper as a fixture, for tests that prefer not to import it."""
    return login
