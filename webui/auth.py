"""Login, logout, one's own password, who may see what, CSRF, login rate limiting, headers.

``login_required`` and ``role_required(*roles)`` sit beside the views (admin passes every role
check). Every POST must carry the session's CSRF token: form field ``csrf_token`` or header
``X-CSRF-Token`` (for fetch). Login failures are counted in SQLite, so the limit holds across
worker processes. A login remembers a fingerprint of the password hash: a disabled account, or
one whose password was changed or reset, is logged out on its next request.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request,
                   session, url_for)

from simulator.store import roles_of
from simulator.store.users import MIN_PASSWORD

from .db import get_store

bp = Blueprint("auth", __name__, url_prefix="/auth")

ROLE_NAMES = {"trainee": "学员", "trainer": "培训师", "supervisor": "质检主管", "admin": "管理员"}
# where each role lands after login, in this order of preference
ROLE_HOMES = (("trainee", "trainee.home"), ("trainer", "trainer.index"),
              ("supervisor", "supervisor.index"))
MAX_PASSWORD = 128
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
       "object-src 'none'")


def csrf_token() -> str:
    """This session's CSRF token (created on first use); put it in every form and fetch."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


@bp.before_app_request
def check_csrf_and_load_user():
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, description="表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。")
    g.user = None
    if request.endpoint != "static" and session.get("user_id") is not None:
        g.user = get_store().get_user(session["user_id"])
        if g.user is None or g.user["disabled"] or session.get("pw") != _fingerprint(g.user):
            g.user = None  # deleted, disabled, or its password changed since this login
            session.clear()
    g.roles = roles_of(g.user)


def _fingerprint(user: dict) -> str:
    """A short digest of the stored hash: it changes when the password does."""
    return hashlib.sha256(user["password_hash"].encode()).hexdigest()[:16]


def _start_session(user: dict) -> None:
    session.clear()  # a fresh session (and CSRF token) on every login
    session["user_id"] = user["id"]
    session["pw"] = _fingerprint(user)
    session.permanent = False


@bp.after_app_request
def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.app_context_processor
def template_helpers():
    return {"csrf_token": csrf_token, "role_names": ROLE_NAMES, "home_url": home_url,
            "url_for_exists": lambda endpoint: endpoint in current_app.view_functions}


def wants_json() -> bool:
    return ("X-CSRF-Token" in request.headers
            or request.accept_mimetypes.best == "application/json"
            or request.path.endswith("/stream"))


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            if wants_json():
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapped


def role_required(*roles):
    """Logged in and holding one of ``roles`` (admin holds them all), else 403."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.get("user") is None:
                return login_required(view)(*args, **kwargs)
            if not (g.roles & set(roles)) and "admin" not in g.roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def home_url(user_roles=None) -> str:
    """The first page of the user's role; an admin starts from the supervisors' pages."""
    roles = g.get("roles", set()) if user_roles is None else user_roles
    order = ROLE_HOMES[::-1] if "admin" in roles else ROLE_HOMES
    for role, endpoint in order:
        if (role in roles or "admin" in roles) and endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("auth.index_page")


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=("GET", "POST"))
def login():
    error, status = None, 200
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        password = request.form.get("password") or ""
        store = get_store()
        key, address = f"{name}|{request.remote_addr}", f"address|{request.remote_addr}"
        cfg = current_app.config
        window = cfg["LOGIN_WINDOW_S"]
        if (store.login_failures(key, window) >= cfg["LOGIN_MAX_FAILURES"]
                or store.login_failures(address, window) >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]):
            error, status = f"登录失败次数过多，请 {window // 60} 分钟后再试。", 429
        else:
            user = store.check_password(name, password)
            if user is None:
                store.record_login_failure(key)
                store.record_login_failure(address)
                error, status = "用户名或密码不正确。", 401
            elif user["disabled"]:
                error, status = "此账号已停用，请联系管理员。", 403
            else:
                store.clear_login_failures(key)
                store.record_login(user["id"])
                _start_session(user)
                target = _safe_next(request.args.get("next"))
                return redirect(target or home_url(roles_of(user)))
    return render_template("auth/login.html", error=error), status


@bp.route("/logout", methods=("POST",))
def logout():
    session.clear()
    flash("您已退出登录。")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=("GET", "POST"))
@login_required
def password():
    """Change one's own password: the current one, then the new one twice."""
    error, status = None, 200
    if request.method == "POST":
        store, user = get_store(), g.user
        key, cfg = f"password|{user['id']}", current_app.config
        current = request.form.get("current_password") or ""
        new = request.form.get("new_password") or ""
        if store.login_failures(key, cfg["LOGIN_WINDOW_S"]) >= cfg["LOGIN_MAX_FAILURES"]:
            error, status = f"当前密码输错次数过多，请 {cfg['LOGIN_WINDOW_S'] // 60} 分钟后再试。", 429
        elif store.check_password(user["name"], current) is None:
            store.record_login_failure(key)
            error, status = "当前密码不正确。", 400
        else:
            error = password_problem(new, request.form.get("confirm_password") or "", current)
            status = 400 if error else 200
        if error is None:
            store.clear_login_failures(key)
            store.set_password(user["id"], new)
            _start_session(store.get_user(user["id"]))  # this login stays; others end
            flash("密码已修改，请记住新密码。")
            return redirect(home_url())
    return render_template("auth/password.html", error=error, min_password=MIN_PASSWORD), status


def password_problem(new: str, confirm: str, current: str | None = None) -> str | None:
    """What is wrong with a new password, in one Chinese sentence, or None."""
    if len(new) < MIN_PASSWORD:
        return f"新密码至少需要 {MIN_PASSWORD} 个字符。"
    if len(new) > MAX_PASSWORD:
        return f"新密码最多 {MAX_PASSWORD} 个字符。"
    if new != confirm:
        return "两次输入的新密码不一致。"
    if current is not None and new == current:
        return "新密码不能与当前密码相同。"
    return None


@bp.route("/home")
@login_required
def index_page():
    """For accounts whose role has no pages yet (e.g. an admin before the other areas exist)."""
    return render_template("auth/home.html")


def index():
    """``/``: the user's home, or the login page."""
    if g.get("user") is None:
        return redirect(url_for("auth.login"))
    return redirect(home_url())


bp.record_once(lambda state: state.app.add_url_rule("/", "index", index))
