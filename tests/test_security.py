"""The systematic security sweep: every route x every role, CSRF on every POST, stored XSS on every page.

The other web tests check single pages; this file enumerates ``app.url_map`` so a route added
later is swept too (a route whose blueprint is not in ``ACCESS`` fails the sweep until it is
classified). Every attack must be *refused*; each assert message says what got through.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml

from webhelpers import USERS, AuthActions
from webui import create_app

ROLES = ("trainee", "trainer", "supervisor", "admin")
# blueprint -> roles that may open its pages (admin passes every role check)
ACCESS = {"trainee": {"trainee", "admin"}, "trainer": {"trainer", "admin"},
          "supervisor": {"supervisor", "admin"}, "admin": {"admin"}}
OPEN = {"auth.login", "static", "index"}           # reachable logged out
EVERYONE = {"auth.index_page", "auth.password"}    # every logged-in user, whatever the role
P_SCRIPT = "<script>alert(1)</script>"
P_IMG = '"><img src=x onerror=alert(1)>'
RAW = (P_SCRIPT, "<img src=x")                     # must never reach an HTML page unescaped
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def events_text(client, url):
    return client.get(url).get_data(as_text=True)


def play(client, auth, persona="angry-broadband", reply="这是公司规定，我也没办法。", end=True) -> str:
    """Start a call over HTTP, hear the caller, reply once, hang up (unless ``end`` is False)."""
    r = auth.post("/call/start", {"persona_id": persona})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    sid = r.headers["Location"].rsplit("/", 1)[1]
    assert "event: turn" in events_text(client, f"/call/{sid}/stream")
    if end:
        assert auth.post_json(f"/call/{sid}/reply", {"text": reply, "expect": 1}).status_code == 200
        assert auth.post_json(f"/call/{sid}/hangup", {}).status_code == 200
    return sid


def snapshot(store) -> dict:
    """Every row of every table: a refused request must leave this unchanged."""
    tables = [r["name"] for r in store.rows("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {t: store.rows(f"SELECT * FROM {t} ORDER BY rowid") for t in tables}


@pytest.fixture
def world(app, store):
    """Calls of two trainees (ended with findings, and active) and an assignment; ids by name."""
    clients = {}
    for role in ("trainee", "trainee2"):
        c = app.test_client()
        a = AuthActions(c)
        a.login_as(role)
        clients[role] = (c, a)
    c, a = clients["trainee"]
    ended, active = play(c, a), play(c, a, end=False)
    c2, a2 = clients["trainee2"]
    foreign = play(c2, a2)
    trainer = store.get_user_by_name("trainer")
    assignment = store.add_assignment("angry-broadband", mode="practice", group_name="一期",
                                      created_by=trainer["id"])
    finding = store.findings(ended)[0]["id"]
    return {"ended": ended, "active": active, "foreign": foreign, "assignment": assignment,
            "finding": finding}


def url_for_rule(rule, ids, session_key="ended") -> str:
    values = {"session_id": ids[session_key], "finding_id": ids["finding"], "assignment_id": ids["assignment"],
              "persona_id": "angry-broadband", "filename": "app.css", "user_id": ids.get("user", 1)}
    if rule.endpoint in ("trainee.call", "trainee.stream"):
        values["session_id"] = ids["active"]
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def rules(app, method):
    return [r for r in sorted(app.url_map.iter_rules(), key=lambda r: r.rule) if method in r.methods]


def client_as(app, role):
    c = app.test_client()
    a = AuthActions(c)
    if role:
        a.login_as(role)
    return c, a


def expected_get(rule, role: str | None) -> set[int]:
    endpoint = rule.endpoint
    if endpoint in OPEN:
        return {200, 302}
    if role is None:
        return {302, 401}
    if endpoint in EVERYONE:
        return {200, 302}
    allowed = ACCESS.get(endpoint.split(".")[0])
    assert allowed is not None, f"route {endpoint} is not classified in ACCESS: add it to the security sweep"
    if role not in allowed:
        return {403}
    if role == "admin" and endpoint.startswith("trainee.") and "session_id" in rule.arguments:
        return {404}  # admin passes the role check but the call is not theirs: never shown
    return {200, 302} if endpoint == "trainee.call" else {200}


@pytest.mark.parametrize("role", (None,) + ROLES)
def test_every_get_route_answers_each_role_as_the_access_table_says(app, world, role):
    c, _ = client_as(app, role)
    wrong = []
    for rule in rules(app, "GET"):
        r = c.get(url_for_rule(rule, world))
        want = expected_get(rule, role)
        if r.status_code not in want:
            wrong.append(f"{rule.rule} as {role or 'logged out'}: {r.status_code}, expected {sorted(want)}")
        if role is None and rule.endpoint not in OPEN and r.status_code == 302:
            assert r.headers["Location"].startswith("/auth/login"), f"{rule.rule} redirects elsewhere"
    assert not wrong, "access not refused as the table says:\n" + "\n".join(wrong)


def test_logged_out_never_gets_200_on_a_protected_page(app, world):
    c, _ = client_as(app, None)
    leaked = [rule.rule for rule in rules(app, "GET") if rule.endpoint not in OPEN
              and c.get(url_for_rule(rule, world)).status_code == 200]
    assert not leaked, f"protected pages served without login: {leaked}"


@pytest.mark.parametrize("path", ["/call/{}", "/call/{}/stream", "/report/{}", "/call/{}/reply",
                                  "/call/{}/hold", "/call/{}/hangup"])
def test_idor_another_trainees_call_is_404_for_every_call_route(app, world, store, path):
    c, a = client_as(app, "trainee")
    before = snapshot(store)
    url = path.format(world["foreign"])
    r = a.post_json(url, {"text": "您好", "expect": 3}) if path.endswith(("reply", "hold", "hangup")) else c.get(url)
    assert r.status_code == 404, f"{url}: a trainee reached another trainee's call ({r.status_code})"
    assert snapshot(store) == before, f"{url}: another trainee's call was changed"


def test_trainer_is_refused_on_supervisor_review_pages(app, world):
    c, a = client_as(app, "trainer")
    sid, fid = world["ended"], world["finding"]
    for url in ("/supervisor/", f"/supervisor/sessions/{sid}", "/supervisor/overview", "/supervisor/sessions.csv",
                "/supervisor/findings.csv"):
        assert c.get(url).status_code == 403, f"trainer opened {url}"
    for url in (f"/supervisor/sessions/{sid}/comment", f"/supervisor/sessions/{sid}/findings/{fid}/override"):
        assert a.post(url, {"text": "x", "verdict": "dismissed", "comment": "x"}).status_code == 403, url


FORM = {"text": "您好，星海宽带。", "verdict": "dismissed", "comment": "试试", "persona_id": "angry-broadband",
        "mode": "practice", "group_name": "一期", "yaml": "id: x\n", "name": "trainee", "password": "pw-trainee-1"}


@pytest.mark.parametrize("role", (None,) + ROLES)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_post_route_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing(app, world, store, role, token):
    c, _ = client_as(app, role)
    before = snapshot(store)
    passed = []
    for rule in rules(app, "POST"):
        data = dict(FORM, **({"csrf_token": token} if token else {}))
        url = url_for_rule(rule, world, session_key="active")
        for r in (c.post(url, data=data),
                  c.post(url, json={"text": "您好"}, headers={"X-CSRF-Token": token or "", "Accept": "application/json"})):
            if r.status_code not in (400, 403):
                passed.append(f"{rule.rule} as {role or 'logged out'}: {r.status_code}")
    assert not passed, "POST accepted without a valid CSRF token:\n" + "\n".join(passed)
    assert snapshot(store) == before, "a POST without a valid CSRF token changed the store"


@pytest.mark.parametrize("role", ROLES[:3])
def test_every_post_route_refuses_the_wrong_role_and_changes_nothing(app, world, store, role):
    c, a = client_as(app, role)
    before = snapshot(store)
    got_in = []
    for rule in rules(app, "POST"):
        bp = rule.endpoint.split(".")[0]
        if bp not in ACCESS or role in ACCESS[bp]:
            continue
        r = a.post(url_for_rule(rule, world, session_key="active"), dict(FORM))
        if r.status_code != 403:
            got_in.append(f"{rule.rule} as {role}: {r.status_code}")
    assert not got_in, "POST by the wrong role not refused with 403:\n" + "\n".join(got_in)
    assert snapshot(store) == before, f"a refused POST by {role} changed the store"


def hostile_persona() -> str:
    """The shipped angry caller with markup in its title and in every opening line (edited as text)."""
    text = (Path(__file__).resolve().parents[1] / "personas" / "angry-broadband.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^id: .*$", "id: xss-caller", text)
    text = re.sub(r"(?m)^title: .*$", "title: '恶意" + (P_SCRIPT + P_IMG).replace("'", "''") + "'", text)
    head, rest = text.split("\n  open:\n", 1)
    block, tail = re.match(r"((?:    .*\n)+)(.*)", rest, re.S).groups()
    block = re.sub(r"(?m)^(      - ).*$", lambda m: m.group(1) + "'喂？" + P_SCRIPT + "我家网断了"
                   + P_IMG.replace("'", "''") + "三天了！'", block)
    return head + "\n  open:\n" + block + tail


def test_stored_xss_is_escaped_on_every_page(app, store):
    t, ta = client_as(app, "trainer")
    r = ta.post("/trainer/personas/import", {"file": (io.BytesIO(hostile_persona().encode()), "x.yaml")},
                content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    _, ada = client_as(app, "admin")
    r = ada.post("/admin/users", {"name": "恶意" + P_SCRIPT + P_IMG, "role": "trainee", "group_name": "组" + P_SCRIPT})
    assert r.status_code == 200 and ESCAPED in r.get_data(as_text=True), r.get_data(as_text=True)[:500]
    assert not any(p in r.get_data(as_text=True) for p in RAW), "the new account's page shows its name unescaped"
    c, a = client_as(app, "trainee")
    sid = play(c, a, persona="xss-caller", reply=f"这是公司规定{P_SCRIPT}{P_IMG}")
    assert P_SCRIPT in store.turns(sid)[0]["text"], "the hostile caller line was not spoken"
    s, sa = client_as(app, "supervisor")
    fid = store.findings(sid)[0]["id"]
    assert sa.post(f"/supervisor/sessions/{sid}/comment", {"text": "评语" + P_SCRIPT + P_IMG}).status_code == 302
    assert sa.post(f"/supervisor/sessions/{sid}/findings/{fid}/override",
                   {"verdict": "dismissed", "comment": "撤销" + P_SCRIPT + P_IMG}).status_code == 302
    trainer = store.get_user_by_name("trainer")
    store.add_assignment("xss-caller", mode="practice", group_name="一期", created_by=trainer["id"])
    ids = {"ended": sid, "active": sid, "finding": fid, "assignment": 1}
    shown, leaked = set(), []
    for role in ROLES:
        cl, _ = client_as(app, role)
        for rule in rules(app, "GET"):
            if rule.endpoint == "static":
                continue
            url = url_for_rule(rule, ids).replace("/angry-broadband", "/xss-caller")
            r = cl.get(url)
            body = r.get_data(as_text=True)
            if r.mimetype == "text/html":
                leaked += [f"{url} as {role}: {p!r}" for p in RAW if p in body]
                if ESCAPED in body:
                    shown.add(rule.endpoint)
    assert not leaked, "hostile markup reached a page unescaped:\n" + "\n".join(leaked)
    # the payloads were really on these pages (escaped), so the sweep above had something to find
    assert {"trainer.index", "trainer.edit_persona", "trainee.home", "trainee.report",
            "supervisor.session", "admin.users"} <= shown, sorted(shown)
    report = client_as(app, "trainee")[0].get(f"/report/{sid}").get_data(as_text=True)
    for what in ("评语", "撤销", "这是公司规定", "喂？"):   # comment, override, reply, caller line
        assert re.search(re.escape(what) + r".{0,200}?" + re.escape(ESCAPED), report, re.S), \
            f"{what}… is not shown (escaped) on the trainee's report"


def test_static_scripts_never_write_html_from_data():
    for js in (Path(__file__).resolve().parents[1] / "webui" / "static").rglob("*.js"):
        code = re.sub(r"//.*", "", js.read_text(encoding="utf-8"))
        assert not re.search(r"\.innerHTML\s*=|insertAdjacentHTML|outerHTML\s*=|document\.write", code), \
            f"{js.name} writes HTML: data could run as script"


@pytest.mark.parametrize("filename", ["../../etc/passwd", "..\\..\\evil.yaml", "/etc/cron.d/x", "a/../../b.yaml"])
def test_path_traversal_in_persona_import_writes_nothing_outside(app, store, tmp_path, filename):
    _, ta = client_as(app, "trainer")
    before = set(tmp_path.parent.rglob("*"))
    text = (Path(__file__).resolve().parents[1] / "personas" / "wrong-number.yaml").read_text(encoding="utf-8")
    r = ta.post("/trainer/personas/import", {"file": (io.BytesIO(text.encode()), filename)},
                content_type="multipart/form-data")
    assert r.status_code in (302, 400)
    new = {p for p in set(tmp_path.parent.rglob("*")) - before if "data" not in p.relative_to(tmp_path.parent).parts}
    assert not new, f"import with filename {filename!r} wrote outside the data dir: {new}"
    assert not list(Path(app.config["DATA_DIR"]).rglob("passwd")) and not list(Path("/etc/cron.d").glob("x"))


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fsecret_key",
                                    "..", "x/../../secret_key"])
def test_path_traversal_in_persona_ids_is_refused(app, store, bad_id):
    t, ta = client_as(app, "trainer")
    before = snapshot(store)
    for url in (f"/trainer/personas/{bad_id}/export", f"/trainer/personas/{bad_id}"):
        r = t.get(url)
        body = r.get_data(as_text=True)
        assert r.status_code == 404, f"{url}: {r.status_code}, expected 404"
        assert "root:" not in body and "SQLite format" not in body and "test-secret" not in body
    text = (Path(__file__).resolve().parents[1] / "personas" / "wrong-number.yaml").read_text(encoding="utf-8")
    r = ta.post("/trainer/personas/import", {"file": (io.BytesIO(re.sub(r"(?m)^id: .*$", f"id: '{bad_id}'", text)
                                                                     .encode()), "p.yaml")},
                content_type="multipart/form-data")
    assert r.status_code == 400, f"persona id {bad_id!r} accepted on import"
    assert snapshot(store) == before


def test_login_brute_force_is_limited_across_two_app_instances_on_one_database(app):
    """Two workers on one SQLite file: failures on either count; the right password is refused while limited."""
    other = create_app({"TESTING": True, "DATA_DIR": app.config["DATA_DIR"], "SECRET_KEY": "another-worker",
                        "CALLER_BACKEND": "scripted"})
    workers = [AuthActions(app.test_client()), AuthActions(other.test_client())]
    limit = app.config["LOGIN_MAX_FAILURES"]
    for n in range(limit):
        assert workers[n % 2].login("trainee", f"guess-{n}").status_code == 401
    for w in workers:
        r = w.login("trainee", USERS["trainee"][2])
        assert r.status_code == 429, f"correct password accepted while rate limited ({r.status_code})"
        assert "登录失败次数过多" in r.get_data(as_text=True)
    assert workers[1].login("trainee2").status_code == 302, "another account was locked out too"
