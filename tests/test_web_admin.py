"""Accounts in the web app: everyone's own password (/auth/password), the admin's /admin/users."""

from __future__ import annotations

import re

import pytest

from webhelpers import USERS, AuthActions

PASSWORD_RE = re.compile(r'id="new-password">([^<]+)</code>')


def users_table(store):
    return store.rows("SELECT * FROM users ORDER BY id")


def change(auth, current, new, confirm=None):
    return auth.post("/auth/password", {"current_password": current, "new_password": new,
                                        "confirm_password": new if confirm is None else confirm})


def uid(store, name):
    return store.get_user_by_name(name)["id"]


# -- one's own password ---------------------------------------------------------------------

def test_password_page_needs_a_login_and_is_linked_from_the_top_bar(client, auth):
    assert client.get("/auth/password").headers["Location"].startswith("/auth/login")
    auth.login_as("trainee")
    page = client.get("/practice").get_data(as_text=True)
    assert 'href="/auth/password"' in page and "修改密码" in page
    assert "当前密码" in client.get("/auth/password").get_data(as_text=True)


@pytest.mark.parametrize("current, new, confirm, message", [
    ("wrong-password", "new-secret-1", None, "当前密码不正确"),
    (USERS["trainee"][2], "new-secret-1", "new-secret-2", "两次输入的新密码不一致"),
    (USERS["trainee"][2], "short", None, "新密码至少需要 8 个字符"),
    (USERS["trainee"][2], USERS["trainee"][2], None, "新密码不能与当前密码相同"),
    (USERS["trainee"][2], "x" * 129, None, "新密码最多 128 个字符"),
])
def test_a_refused_password_change_says_why_and_changes_nothing(client, auth, store, current, new,
                                                                 confirm, message):
    auth.login_as("trainee")
    before = users_table(store)
    r = change(auth, current, new, confirm)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert users_table(store) == before
    assert client.get("/practice").status_code == 200  # still logged in


def test_too_many_wrong_current_passwords_are_limited(app, auth):
    auth.login_as("trainee")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert change(auth, "wrong-password", "new-secret-1").status_code == 400
    r = change(auth, USERS["trainee"][2], "new-secret-1")
    assert r.status_code == 429 and "输错次数过多" in r.get_data(as_text=True)


def test_changed_password_works_at_the_next_login_and_ends_other_logins(app, client, auth):
    other = AuthActions(second := app.test_client())
    other.login_as("trainee")
    auth.login_as("trainee")
    r = change(auth, USERS["trainee"][2], "brand-new-secret")
    assert r.status_code == 302 and r.headers["Location"] == "/practice"
    assert "密码已修改" in client.get("/practice").get_data(as_text=True)  # this login stays
    assert second.get("/practice").headers["Location"].startswith("/auth/login")  # the other ends
    auth.logout()
    assert auth.login("trainee").status_code == 401                       # the old password
    assert auth.login("trainee", "brand-new-secret").status_code == 302   # the new one


# -- the admin's accounts page -----------------------------------------------------------------

def test_only_admins_reach_the_accounts_page_and_its_link(client, auth, store):
    target = uid(store, "trainee2")
    for role in ("trainee", "trainer", "supervisor"):
        auth.login_as(role)
        before = users_table(store)
        assert "/admin/users" not in client.get("/auth/password").get_data(as_text=True)
        assert client.get("/admin/users").status_code == 403, role
        for path, data in (("/admin/users", {"name": "x", "role": "admin"}),
                           (f"/admin/users/{target}/password", {}),
                           (f"/admin/users/{target}/disable", {}),
                           (f"/admin/users/{target}/enable", {})):
            assert auth.post(path, data).status_code == 403, (role, path)
        assert users_table(store) == before
        auth.logout()
    auth.login_as("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users"' in page and "账号管理" in page
    for name in USERS:
        assert f"<td>{name}" in page


def test_admin_adds_a_trainee_whose_password_is_shown_once(app, client, auth, store):
    auth.login_as("admin")
    r = auth.post("/admin/users", {"name": " 王芳 ", "role": "trainee", "group_name": "2026-11期"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "账号已创建" in body and "王芳" in body
    password = PASSWORD_RE.search(body).group(1)
    assert len(password) >= 12
    user = store.get_user_by_name("王芳")
    assert (user["roles"], user["group_name"], user["disabled"]) == ("trainee", "2026-11期", 0)
    assert password not in client.get("/admin/users").get_data(as_text=True)  # once only
    assert password not in user["password_hash"]
    assert "从未登录" in client.get("/admin/users").get_data(as_text=True)
    newcomer = AuthActions(app.test_client())
    assert newcomer.login("王芳", password).headers["Location"] == "/practice"
    assert store.get_user_by_name("王芳")["last_login"]


@pytest.mark.parametrize("form, message", [
    ({"name": "trainee", "role": "trainee"}, "用户名“trainee”已存在"),
    ({"name": "  ", "role": "trainee"}, "请填写用户名"),
    ({"name": "新人", "role": "boss"}, "未知角色“boss”"),
    ({"name": "新人", "role": ""}, "请至少选择一个角色"),
    ({"name": "新人"}, "请至少选择一个角色"),
    ({"name": "新人", "role": "trainer,supervisor"}, "未知角色"),
    ({"name": "新\n人", "role": "trainee"}, "不能包含换行"),
    ({"name": "长" * 65, "role": "trainee"}, "最多 64 个字符"),
])
def test_a_refused_add_says_why_keeps_the_form_and_stores_nothing(client, auth, store, form, message):
    auth.login_as("admin")
    before = users_table(store)
    groups = store.groups()
    r = auth.post("/admin/users", dict(form, group_name="三期"))
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and message in body
    assert 'value="三期"' in body and "new-password" not in body
    assert users_table(store) == before and store.groups() == groups


def test_a_name_with_html_comes_back_escaped(client, auth, store):
    auth.login_as("admin")
    name = '<b>坏</b><script>alert(1)</script>'
    r = auth.post("/admin/users", {"name": name, "role": "trainee", "group_name": "<i>组</i>"})
    assert r.status_code == 200
    for body in (r.get_data(as_text=True), client.get("/admin/users").get_data(as_text=True)):
        assert "&lt;b&gt;坏&lt;/b&gt;&lt;script&gt;" in body and "<script>alert" not in body
        assert "&lt;i&gt;组&lt;/i&gt;" in body and "<i>组" not in body
    assert store.get_user_by_name(name)["name"] == name  # stored as typed
    again = auth.post("/admin/users", {"name": name, "role": "trainee"}).get_data(as_text=True)
    assert "已存在" in again and "<b>坏" not in again


def test_admin_resets_a_password_and_the_old_one_and_its_logins_end(app, client, auth, store):
    trainee = AuthActions(second := app.test_client())
    trainee.login_as("trainee")
    auth.login_as("admin")
    r = auth.post(f"/admin/users/{uid(store, 'trainee')}/password")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "密码已重置" in body
    password = PASSWORD_RE.search(body).group(1)
    assert second.get("/practice").headers["Location"].startswith("/auth/login")
    assert trainee.login("trainee").status_code == 401
    assert trainee.login("trainee", password).status_code == 302
    assert auth.post("/admin/users/9999/password").status_code == 404


def test_admin_disables_and_enables_an_account(app, client, auth, store):
    trainee = AuthActions(second := app.test_client())
    trainee.login_as("trainee")
    auth.login_as("admin")
    tid = uid(store, "trainee")
    r = auth.post(f"/admin/users/{tid}/disable")
    assert r.status_code == 302 and store.get_user(tid)["disabled"] == 1
    page = client.get("/admin/users").get_data(as_text=True)
    assert "已停用账号“trainee”" in page and "已停用" in page and "启用" in page
    # the open login is refused, as pages and as fetch calls
    assert second.get("/practice").headers["Location"].startswith("/auth/login")
    r = trainee.login("trainee")
    assert r.status_code == 403 and "此账号已停用" in r.get_data(as_text=True)
    assert auth.post(f"/admin/users/{tid}/enable").status_code == 302
    assert store.get_user(tid)["disabled"] == 0
    assert trainee.login("trainee").status_code == 302
    assert auth.post("/admin/users/9999/disable").status_code == 404


def test_a_disabled_users_fetch_calls_get_401(app, auth, store):
    trainee = AuthActions(second := app.test_client())
    trainee.login_as("trainee")
    auth.login_as("admin")
    auth.post(f"/admin/users/{uid(store, 'trainee')}/disable")
    r = trainee.post_json("/call/start", {"persona_id": "angry-broadband"})
    assert r.status_code == 401
    assert second.get("/practice", headers={"Accept": "application/json"}).status_code == 401


def test_an_admin_cannot_disable_or_reset_themselves(client, auth, store):
    auth.login_as("admin")
    me = uid(store, "admin")
    before = users_table(store)
    r = auth.post(f"/admin/users/{me}/disable")
    assert r.status_code == 400 and "不能停用您自己的账号" in r.get_data(as_text=True)
    r = auth.post(f"/admin/users/{me}/password")
    assert r.status_code == 400 and "修改密码" in r.get_data(as_text=True)
    assert users_table(store) == before
    assert client.get("/admin/users").status_code == 200


def test_admin_gives_one_account_several_roles(auth, store):
    auth.login_as("admin")
    r = auth.post("/admin/users", {"name": "组长", "role": ["supervisor", "trainer", "trainer"]})
    assert r.status_code == 200 and "账号已创建" in r.get_data(as_text=True)
    assert store.get_user_by_name("组长")["roles"] == "trainer,supervisor"
    # a refused add keeps what was ticked
    again = auth.post("/admin/users", {"name": "组长", "role": ["trainer", "admin"]}).get_data(as_text=True)
    assert "已存在" in again
    assert re.search(r'value="admin"\s+checked', again) and re.search(r'value="trainer"\s+checked', again)
    assert not re.search(r'value="trainee"\s+checked', again)
