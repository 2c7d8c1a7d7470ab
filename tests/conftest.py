"""Shared fixtures: a fresh app on a temporary data dir, seeded accounts, a logged-in client.

``app``: scripted caller, the shipped personas imported, one account per role plus a second
trainee (``USERS``). ``auth`` / ``login_as(role)`` log in through the real login form (with its
CSRF token). ``live_server`` serves the same app on a free 127.0.0.1 port for browser tests.
"""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from simulator.store import open_store
from webui import create_app
from webui.setup import prepare
from webhelpers import USERS, AuthActions  # noqa: F401  (re-exported for fixtures)

@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "test-secret",
                      "CALLER_BACKEND": "scripted"})
    prepare(app)
    store = open_store(app.config["DATA_DIR"])
    for name, (role, group, password) in USERS.items():
        store.add_user(name, role=role, password=password, group=group)
    store.close()
    yield app


@pytest.fixture
def store(app):
    s = open_store(app.config["DATA_DIR"])
    yield s
    s.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def make_auth():
    """AuthActions for another client (a second browser): ``make_auth(app.test_client())``."""
    return AuthActions


@pytest.fixture
def login_as(auth):
    return auth.login_as


@pytest.fixture
def live_server(app):
    """The app on a free port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
