"""Login, CSRF, rate limiting, roles and headers, through the Flask test client."""

from __future__ import annotations

import pytest

from webui import create_app


def test_login_page_and_successful_login_lands_on_the_role_home(client, auth):
    assert "登录陪练" in client.get("/auth/login").get_data(as_text=True)
    r = auth.login("trainee")
    assert r.status_code == 302 and r.headers["Location"] == "/practice"
    assert client.get("/").headers["Location"] == "/practice"


def test_wrong_password_is_refused_in_chinese(client, auth):
    r = auth.login("trainee", "not-the-password")
    assert r.status_code == 401 and "用户名或密码不正确" in r.get_data(as_text=True)
    assert client.get("/practice").status_code == 302  # still logged out


def test_login_rate_limit_counts_failures_per_name_and_address(app, client, auth):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert auth.login("trainee", "bad-password").status_code == 401
    r = auth.login("trainee")  # even the right password is refused now
    assert r.status_code == 429 and "登录失败次数过多" in r.get_data(as_text=True)
    assert auth.login("trainee2").status_code == 302  # another name is not blocked


def test_one_address_trying_many_names_is_limited_too(app, client, auth):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for n in range(3):
        assert auth.login(f"nobody{n}", "guess").status_code == 401
    assert auth.login("trainee2").status_code == 429


def test_rate_limit_is_shared_through_the_database(app, auth, make_auth):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        auth.login("trainee", "bad-password")
    other = create_app({"TESTING": True, "DATA_DIR": app.config["DATA_DIR"], "SECRET_KEY": "x"})
    assert make_auth(other.test_client()).login("trainee").status_code == 429


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_post_without_the_right_csrf_token_is_400(client, token):
    data = {"name": "trainee", "password": "pw-trainee-1"}
    if token is not None:
        data["csrf_token"] = token
    client.get("/auth/login")
    r = client.post("/auth/login", data=data)
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)


def test_csrf_header_is_accepted_for_fetch(client, auth):
    token = auth.csrf()
    r = client.post("/auth/login", data={"name": "trainee", "password": "pw-trainee-1"},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 302


def test_logout_needs_post_and_ends_the_session(client, auth):
    auth.login_as("trainee")
    assert client.get("/auth/logout").status_code == 405
    assert auth.logout().status_code == 302
    assert client.get("/practice").headers["Location"].startswith("/auth/login")


def test_login_next_only_goes_to_local_paths(client, auth):
    token = auth.csrf()
    form = {"name": "trainee", "password": "pw-trainee-1", "csrf_token": token}
    r = client.post("/auth/login?next=//evil.example/x", data=form)
    assert r.headers["Location"] == "/practice"
    auth.logout()
    r = client.post("/auth/login?next=/progress", data=dict(form, csrf_token=auth.csrf()))
    assert r.headers["Location"] == "/progress"


def test_security_headers_and_cookie_flags(client, auth):
    r = client.get("/auth/login")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    cookie = auth.login("trainee").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_when_https(monkeypatch, tmp_path):
    monkeypatch.setenv("PEILIAN_HTTPS", "1")
    assert create_app({"DATA_DIR": str(tmp_path)}).config["SESSION_COOKIE_SECURE"] is True


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("PEILIAN_SECRET", raising=False)
    a = create_app({"DATA_DIR": str(tmp_path)}).config["SECRET_KEY"]
    b = create_app({"DATA_DIR": str(tmp_path)}).config["SECRET_KEY"]
    assert a == b and len(a) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


TRAINEE_PAGES = ["/practice", "/progress"]


@pytest.mark.parametrize("path", TRAINEE_PAGES)
@pytest.mark.parametrize("role,status", [(None, 302), ("trainer", 403), ("supervisor", 403),
                                         ("trainee", 200), ("admin", 200)])
def test_trainee_pages_by_role(client, login_as, path, role, status):
    if role:
        login_as(role)
    r = client.get(path)
    assert r.status_code == status
    if status == 403:
        assert "没有权限" in r.get_data(as_text=True)


def test_unknown_page_is_a_chinese_404(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404 and "页面不存在" in r.get_data(as_text=True)


def test_prepare_is_idempotent_and_prints_demo_accounts(app, runner):
    r = runner.invoke(args=["prepare", "--demo"])
    assert "demo account demo-trainee (trainee) created; password:" in r.output
    assert "personas: 0 new version(s) imported" in r.output
    r = runner.invoke(args=["prepare", "--demo"])
    assert "demo account demo-trainee (trainee) already exists" in r.output


def test_prepare_names_the_caller_and_falls_back_when_a_model_cannot_load(tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path), "SECRET_KEY": "x", "CALLER_BACKEND": "transformers",
                      "CALLER_OPTIONS": {"model": str(tmp_path / "no-such-model")}})
    from webui.setup import prepare
    assert "caller: scripted (backend transformers unavailable, see the log)" in prepare(app)


def test_restarts_keep_a_trainers_newer_persona_version(app, store):
    from webui.setup import prepare
    shipped = store.get_persona("angry-broadband")
    edited = shipped["yaml"].replace("title: 宽带断网三天的愤怒客户", "title: 培训师改过的客户")
    assert store.add_persona_version("angry-broadband", edited, title="培训师改过的客户") == (2, True)
    assert "personas: 0 new version(s) imported" in "\n".join(prepare(app))
    assert store.get_persona("angry-broadband")["title"] == "培训师改过的客户"


def test_an_unusable_data_dir_is_a_clear_error_not_a_traceback(tmp_path):
    from simulator.errors import StoreError
    from webui.setup import prepare
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    app = create_app({"DATA_DIR": str(blocker / "data")})  # still builds (the key is not kept)
    with pytest.raises(StoreError, match="cannot create the data directory"):
        prepare(app)


def test_an_admin_lands_on_the_first_staff_page(client, auth):
    r = auth.login("admin")
    assert r.headers["Location"] in ("/supervisor/", "/trainer/", "/practice")
    if "supervisor.index" in client.application.view_functions:
        assert r.headers["Location"] == "/supervisor/"


def _secret_in(data_dir, queue):
    from webui import _persisted_secret
    queue.put(_persisted_secret(data_dir))


def test_workers_starting_at_once_share_one_session_key(tmp_path):
    """Eight processes create the key file at the same moment; all must read the same key."""
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_secret_in, args=(tmp_path, queue)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
    keys = {queue.get(timeout=5) for _ in procs}
    assert len(keys) == 1 and [f.name for f in tmp_path.iterdir()] == ["secret_key"]
