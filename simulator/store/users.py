"""Accounts and login failures. Passwords are hashed with werkzeug (scrypt); never stored plain."""

from __future__ import annotations

import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import StoreError
from .core import epoch, now_iso

ROLES = ("trainee", "trainer", "supervisor", "admin")
PASSWORD_METHOD = "scrypt"  # werkzeug's default; tests may pick a cheaper real hash
MAX_NAME = 64


class DuplicateUser(StoreError):
    """A user with that name already exists."""


def roles_of(user: dict | None) -> set[str]:
    if not user:
        return set()
    return {r for r in (user.get("roles") or "").split(",") if r}


MIN_PASSWORD = 8  # the same for the CLI, the admin page and a user's own change


def new_password() -> str:
    """A password a person can type: 12 characters from a URL-safe alphabet."""
    return secrets.token_urlsafe(9)


class UsersMixin:
    def add_user(self, name: str, role: str = "trainee", password: str | None = None,
                 group: str | None = None) -> str:
        """Create an account; return its password (generated when None). Role may be 'a,b'."""
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME or any(c in name for c in "\r\n\t"):
            raise StoreError(f"user name {name!r} must be 1-{MAX_NAME} characters on one line")
        roles = [r.strip() for r in role.split(",") if r.strip()]
        bad = [r for r in roles if r not in ROLES]
        if not roles or bad:
            raise StoreError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if password is not None and len(password) < MIN_PASSWORD:
            raise StoreError(f"密码太短（the password for {name} is too short: at least {MIN_PASSWORD} characters）")
        password = password or new_password()
        group = (group or "").strip() or None
        with self.transaction():
            if self.one("SELECT id FROM users WHERE name = ?", (name,)):
                raise DuplicateUser(f"user {name} already exists")
            if group:
                self.ensure_group(group)
            self.execute("INSERT INTO users (name, password_hash, roles, group_name, created) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (name, _hash(password), ",".join(roles), group, now_iso()))
        return password

    def ensure_group(self, name: str) -> None:
        self.execute("INSERT OR IGNORE INTO groups (name, created) VALUES (?, ?)", (name, now_iso()))

    def groups(self) -> list[str]:
        return [r["name"] for r in self.rows("SELECT name FROM groups ORDER BY name")]

    def set_password(self, user_id: int, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise StoreError(f"密码太短（the password is too short: at least {MIN_PASSWORD} characters）")
        self.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                     (_hash(password), user_id))

    def check_password(self, name: str, password: str) -> dict | None:
        """The user when name and password match, else None (same work either way).

        A disabled account is returned too (its ``disabled`` is 1): the login page refuses it.
        """
        user = self.get_user_by_name(name)
        if user is None:
            check_password_hash(_dummy_hash(), password or "")  # the same work either way
            return None
        return user if check_password_hash(user["password_hash"], password or "") else None

    def get_user(self, user_id) -> dict | None:
        return self.one("SELECT * FROM users WHERE id = ?", (user_id,))

    def get_user_by_name(self, name: str) -> dict | None:
        return self.one("SELECT * FROM users WHERE name = ?", ((name or "").strip(),))

    def list_users(self, role: str | None = None, active_only: bool = False) -> list[dict]:
        """Accounts by name; ``active_only`` leaves out disabled ones (who can no longer be assigned calls)."""
        users = self.rows("SELECT id, name, roles, group_name, created, disabled, last_login "
                          "FROM users ORDER BY name")
        return [u for u in users if (role is None or role in roles_of(u)) and not (active_only and u["disabled"])]

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        """Disable (no login, existing logins refused) or enable an account; unknown ids: StoreError."""
        cur = self.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(bool(disabled)), user_id))
        if cur.rowcount != 1:
            raise StoreError(f"no user with id {user_id}")

    def record_login(self, user_id: int) -> None:
        """Remember when the account last logged in (shown on the admin page)."""
        self.execute("UPDATE users SET last_login = ? WHERE id = ?", (now_iso(), user_id))

    def has_role(self, role: str) -> bool:
        return any(role in roles_of(u) for u in self.list_users())

    # -- login rate limiting (shared by all workers through the file) --------------
    def record_login_failure(self, key: str) -> None:
        self.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, epoch()))

    def login_failures(self, key: str, window_s: float) -> int:
        since = epoch() - window_s
        self.execute("DELETE FROM login_failures WHERE at < ?", (epoch() - 86400,))
        row = self.one("SELECT count(*) AS n FROM login_failures WHERE key = ? AND at >= ?",
                       (key, since))
        return row["n"]

    def clear_login_failures(self, key: str) -> None:
        self.execute("DELETE FROM login_failures WHERE key = ?", (key,))


def _hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


_dummies: dict[str, str] = {}


def _dummy_hash() -> str:
    if PASSWORD_METHOD not in _dummies:
        _dummies[PASSWORD_METHOD] = _hash(secrets.token_hex(8))
    return _dummies[PASSWORD_METHOD]
