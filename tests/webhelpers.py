"""Test accounts and the login helper, shared by fixtures and tests.

A plain module (not ``conftest``): tests import it by name, and ``import conftest`` is ambiguous
once tests/browser has its own conftest.py.
"""

from __future__ import annotations

import re

from simulator.store import users as store_users

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
