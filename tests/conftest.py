"""Shared fixtures: a fresh app on a temporary data dir, seeded accounts, a logged-in client.

``app``: scripted caller, the shipped personas imported, one account per role plus a second
trainee (``USERS``). ``auth`` / ``login_as(role)`` log in through the real login form (with its
CSRF token). ``live_server`` serves the same app on a free 127.0.0.1 port for browser tests.
"""

from __future__ import annotations

import re
import threading

import pytest
from werkzeug.serving import make_server

from simulator.store import open_store, users as store_users
from webui import create_app
from webui.setup import prepare

# name -> (role, group, password)
USERS = {
    "admin": ("admin", None, "pw-admin-1"),
    "trainer": ("trainer", None, "pw-trainer-1"),
    "supervisor": ("supervisor", None, "pw-supervisor-1"),
    "trainee": ("trainee", "一期", "pw-trainee-1"),
    "trainee2": ("trainee", "二期", "pw-trainee-2"),
}
ROLE_USER = {"admin": "admin", "trainer": "trainer", "supervisor": "supervisor",
             "trainee": "trainee", "trainee2": "trainee2"}
# a real but cheap hash: scrypt costs ~0.3 s a call on this machine, and every test logs in
store_users.PASSWORD_METHOD = "pbkdf2:sha256:2000"
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


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


class AuthActions:
    """Log in and out through the real forms; ``csrf()`` is the token pages would carry."""

    def __init__(self, client):
        self._client = client

    def csrf(self) -> str:
        page = self._client.get("/auth/login").get_data(as_text=True)
        return CSRF_RE.search(page).group(1)

    def login(self, name="trainee", password=None):
        password = password if password is not None else USERS[name][2]
        return self._client.post("/auth/login", data={"name": name, "password": password,
                                                      "csrf_token": self.csrf()})

    def login_as(self, role: str):
        response = self.login(ROLE_USER[role])
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def logout(self):
        return self._client.post("/auth/logout", data={"csrf_token": self.csrf()})

    def post(self, path, data=None, **kwargs):
        """A form POST with the CSRF token, as the page's forms send it."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf())
        return self._client.post(path, data=data, **kwargs)

    def post_json(self, path, payload=None):
        """A fetch() POST with the X-CSRF-Token header, as call.js sends it."""
        return self._client.post(path, json=payload or {},
                                 headers={"X-CSRF-Token": self.csrf(), "Accept": "application/json"})


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
