"""Trainer pages through the Flask test client: access, versions, form/YAML editing, import/export,
preview call, assignments, phrasebook. Real SQLite files, real persona parsing."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import pytest

from webui.staff import forms

PERSONA = "angry-broadband"
SHIPPED = (Path(__file__).resolve().parents[1] / "personas" / f"{PERSONA}.yaml").read_text(encoding="utf-8")
XSS = "<script>alert(1)</script>"

GET_PAGES = ["/trainer/", "/trainer/personas/new", f"/trainer/personas/{PERSONA}",
             f"/trainer/personas/{PERSONA}/diff?from=1&to=1",
             f"/trainer/personas/{PERSONA}?version=1", f"/trainer/personas/{PERSONA}/export",
             "/trainer/personas/import", "/trainer/assignments", "/trainer/phrasebook"]
POSTS = ["/trainer/personas/new", f"/trainer/personas/{PERSONA}", "/trainer/personas/import",
         "/trainer/preview/start", "/trainer/preview/reply", "/trainer/assignments",
         "/trainer/assignments/1/delete"]
ROLE_STATUS = {None: 302, "trainee": 403, "supervisor": 403, "trainer": 200, "admin": 200}


@pytest.mark.parametrize("path", GET_PAGES)
@pytest.mark.parametrize("role", list(ROLE_STATUS))
def test_get_access(client, auth, path, role):
    if role:
        auth.login_as(role)
    r = client.get(path)
    assert r.status_code == ROLE_STATUS[role]
    if role is None:
        assert "/auth/login" in r.headers["Location"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("role", [None, "trainee", "supervisor"])
def test_post_refused(client, auth, store, path, role):
    if role:
        auth.login_as(role)
    before = store.rows("SELECT persona_id, version FROM personas")
    r = auth.post(path, {"yaml": SHIPPED.replace("title:", "title: x"), "persona_id": PERSONA,
                         "mode": "practice", "group_name": "一期"})
    assert r.status_code == (302 if role is None else 403)
    assert store.rows("SELECT persona_id, version FROM personas") == before
    assert store.rows("SELECT * FROM assignments") == []


def test_post_without_csrf_is_refused(client, login_as, store):
    login_as("trainer")
    r = client.post(f"/trainer/personas/{PERSONA}", data={"yaml": SHIPPED})
    assert r.status_code == 400
    assert len(store.persona_versions(PERSONA)) == 1


def _edit(auth, yaml_text, persona_id=PERSONA, **fields):
    """Submit the editor as a browser would: the form as rendered (plus ``fields`` changed by
    the trainer), the rendered values in form_original, and the YAML textarea."""
    url = f"/trainer/personas/{persona_id}" if persona_id else "/trainer/personas/new"
    page = auth._client.get(url).get_data(as_text=True)
    original = html.unescape(re.search(r'name="form_original" value="([^"]*)"', page).group(1))
    values = dict(json.loads(original), **fields)
    return auth.post(url, {"yaml": yaml_text, "form_original": original, **values})


def test_yaml_edit_adds_a_version_and_old_sessions_keep_theirs(auth, login_as, store):
    login_as("trainer")
    trainee = store.get_user_by_name("trainee")
    old_call = store.create_session(trainee["id"], PERSONA, 1, mode="practice")
    r = _edit(auth, SHIPPED.replace("宽带断网三天的愤怒客户", "宽带断网五天的愤怒客户"))
    assert r.status_code == 302, r.get_data(as_text=True)
    versions = store.persona_versions(PERSONA)
    assert [v["version"] for v in versions] == [2, 1]
    v1, v2 = store.get_persona(PERSONA, 1), store.get_persona(PERSONA, 2)
    assert v1["yaml"] == SHIPPED and v1["title"] == "宽带断网三天的愤怒客户"
    assert v2["title"] == "宽带断网五天的愤怒客户"
    assert re.search(r"^version: 2$", v2["yaml"], re.M)          # the YAML says which version it is
    assert "# 宽带断网三天的投诉客户" in v2["yaml"]                 # YAML edits keep comments
    assert store.get_session(old_call)["persona_version"] == 1
    page = auth._client.get(f"/trainer/personas/{PERSONA}").get_data(as_text=True)
    assert "v2" in page and "宽带断网五天的愤怒客户" in page
    diff = auth._client.get(f"/trainer/personas/{PERSONA}/diff").get_data(as_text=True)
    assert '<span class="del">-title: 宽带断网三天的愤怒客户</span>' in diff
    assert '<span class="add">+title: 宽带断网五天的愤怒客户</span>' in diff
    assert '<span class="add">+version: 2</span>' in diff
    old = auth._client.get(f"/trainer/personas/{PERSONA}?version=1").get_data(as_text=True)
    assert 'id="old-version"' in old and "新版本 v3" in old
    # saving the same text again adds nothing
    r = _edit(auth, v2["yaml"])
    assert r.status_code == 302 and len(store.persona_versions(PERSONA)) == 2


def test_form_edit_wins_for_changed_fields(auth, login_as, store):
    login_as("trainer")
    r = _edit(auth, SHIPPED, title="表单改的标题", surname="李", mood_start="6", scenarios="angry, complaint")
    assert r.status_code == 302, r.get_data(as_text=True)
    v2 = store.get_persona(PERSONA, 2)
    data = forms.load(v2["yaml"])
    assert data["title"] == "表单改的标题" and data["caller"]["surname"] == "李"
    assert data["mood"]["start"] == 6 and data["scenarios"] == ["angry", "complaint"]
    assert data["mood"]["triggers"][0]["on"] == "finding"   # 'on' stays a key, not a boolean
    assert data["goal"] == forms.load(SHIPPED)["goal"]      # untouched fields come from the YAML


def test_form_error_is_shown_at_the_field(auth, login_as, store):
    login_as("trainer")
    r = _edit(auth, SHIPPED, surname="欧阳司马长")
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    field = re.search(r'<label class="field-error">来电人姓氏.*?</label>', page, re.S)
    assert field and "error-text" in field.group(0)
    assert "caller.surname" in page
    assert len(store.persona_versions(PERSONA)) == 1


def test_every_problem_is_shown_at_its_field(auth, login_as, store):
    login_as("trainer")
    r = _edit(auth, SHIPPED, surname="欧阳司马长", mood_start="12", title="")
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    marked = re.findall(r'<label class="field-error">([^<]+)', page)
    assert {m.strip() for m in marked} == {"标题", "来电人姓氏", "初始情绪（0 平静 … 10 暴怒）"}
    assert "（共 3 处）" in page
    assert len(store.persona_versions(PERSONA)) == 1


def test_malformed_yaml_shows_the_line(auth, login_as, store):
    login_as("trainer")
    broken = SHIPPED.replace("goal: 让客服", "goal: [让客服", 1)
    bad_line = broken.split("\n").index(next(l for l in broken.split("\n") if l.startswith("goal: ["))) + 1
    r = _edit(auth, broken)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    m = re.search(r'data-line="(\d+)"', page)
    assert m and abs(int(m.group(1)) - bad_line) <= 2       # the parser points at or just after it
    assert "第 " + m.group(1) + " 行" in page and 'class="bad-line"' in page
    assert len(store.persona_versions(PERSONA)) == 1


def test_new_persona_and_html_in_every_text_field_is_escaped(auth, login_as, store):
    login_as("trainer")
    text = forms.STARTER.replace("new-caller", "xss-test")
    r = _edit(auth, text, persona_id=None, title=XSS, company=XSS, background=XSS, goal=XSS, surname="<b>")
    assert r.status_code == 302, r.get_data(as_text=True)
    row = store.get_persona("xss-test")
    assert row["title"] == XSS                                   # stored as text
    for path in ("/trainer/", "/trainer/personas/xss-test", "/trainer/assignments"):
        page = auth._client.get(path).get_data(as_text=True)
        assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    page = auth._client.get("/trainer/personas/xss-test").get_data(as_text=True)
    assert "<b>" not in page and "&lt;b&gt;" in page


def test_new_persona_cannot_take_an_existing_id_or_change_id(auth, login_as, store):
    login_as("trainer")
    r = _edit(auth, SHIPPED, persona_id=None)
    assert r.status_code == 400 and "已存在" in r.get_data(as_text=True)
    r = _edit(auth, SHIPPED.replace(f"id: {PERSONA}", "id: other-id"))
    assert r.status_code == 400 and "id 不能修改" in r.get_data(as_text=True)
    assert store.get_persona("other-id") is None and len(store.persona_versions(PERSONA)) == 1


def _upload(auth, data: bytes, filename="p.yaml"):
    return auth.post("/trainer/personas/import", {"file": (io.BytesIO(data), filename)},
                     content_type="multipart/form-data")


def test_import_uses_content_id_not_filename(auth, login_as, store, app, tmp_path):
    login_as("trainer")
    text = forms.STARTER.replace("new-caller", "imported-one").replace("咨询话费的客户", XSS)
    r = _upload(auth, text.encode(), filename="../../etc/passwd")
    assert r.status_code == 302, r.get_data(as_text=True)
    assert store.get_persona("imported-one")["version"] == 1
    assert not list(Path(app.config["DATA_DIR"]).rglob("passwd"))
    page = auth._client.get("/trainer/").get_data(as_text=True)
    assert XSS not in page and "&lt;script&gt;" in page
    # importing an existing id adds a version
    r = _upload(auth, text.replace("mood:\n  start: 4", "mood:\n  start: 5").encode(), filename="x.yaml")
    assert r.status_code == 302 and store.get_persona("imported-one")["version"] == 2


@pytest.mark.parametrize("content,expect", [
    (b"id: [broken\n", "第 "),                                    # malformed YAML: the line is shown
    (forms.STARTER.replace("difficulty: easy", "difficulty: extreme").encode(), "<code>difficulty</code>"),
    (forms.STARTER.replace("id: new-caller", "id: ../../etc/passwd").encode(), "<code>id</code>"),
    (forms.STARTER.replace("id: new-caller", "id: Bad_Id").encode(), "<code>id</code>"),
    (forms.STARTER.replace("title: 咨询话费的客户", "title: {a: 1}").encode(), "<code>title</code>"),
    ("id: x\ntitle: 错误编码".encode("gbk"), "UTF-8"),
    (b"", "empty"),
])
def test_import_rejects_bad_files(auth, login_as, store, content, expect):
    login_as("trainer")
    before = store.rows("SELECT persona_id, version FROM personas ORDER BY 1, 2")
    r = _upload(auth, content)
    assert r.status_code == 400
    assert expect in r.get_data(as_text=True)
    assert store.rows("SELECT persona_id, version FROM personas ORDER BY 1, 2") == before


def test_import_oversized_is_413_with_a_clear_message(auth, login_as, store):
    login_as("trainer")
    big = forms.STARTER.replace("new-caller", "big-one") + "# " + "x" * 70_000 + "\n"
    r = _upload(auth, big.encode())
    assert r.status_code == 413
    assert "文件太大" in r.get_data(as_text=True) and "64 KB" in r.get_data(as_text=True)
    assert store.get_persona("big-one") is None


def test_import_without_file(auth, login_as):
    login_as("trainer")
    r = auth.post("/trainer/personas/import", {})
    assert r.status_code == 400 and "请选择" in r.get_data(as_text=True)


def test_export_has_a_safe_filename(client, login_as):
    login_as("trainer")
    r = client.get(f"/trainer/personas/{PERSONA}/export")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == f'attachment; filename="{PERSONA}-v1.yaml"'
    assert r.get_data(as_text=True) == SHIPPED
    assert client.get("/trainer/personas/..%2F..%2Fetc%2Fpasswd/export").status_code == 404
    assert client.get(f"/trainer/personas/{PERSONA}/export?version=9").status_code == 404


def test_preview_call_plays_the_draft_and_stores_nothing(auth, login_as, store):
    login_as("trainer")
    draft = SHIPPED.replace("喂？你们星海宽带怎么回事啊，我家网断了三天了！", "草稿里的开场白")
    r = auth.post("/trainer/preview/start", {"yaml": draft})
    assert r.status_code == 200 and r.json["ok"]
    assert r.json["caller"] and r.json["mood"] == 7 and not r.json["ended"]
    r2 = auth.post("/trainer/preview/reply", {"token": r.json["token"], "text": "您好，星海宽带，请问有什么可以帮您？"})
    assert r2.status_code == 200, r2.get_data(as_text=True)
    assert any(f["rule"] == "opening.greeting" for f in r2.json["findings"])
    assert r2.json["caller"]
    r3 = auth.post("/trainer/preview/reply", {"token": r2.json["token"], "text": "这是公司规定，我也没办法。"})
    assert r3.status_code == 200 and r3.json["findings"]
    assert store.rows("SELECT id FROM sessions") == []
    assert len(store.persona_versions(PERSONA)) == 1
    # a tampered token is refused
    bad = auth.post("/trainer/preview/reply", {"token": r2.json["token"][:-3] + "abc", "text": "好的"})
    assert bad.status_code == 400 and "过期" in bad.json["error"]["message"]


def test_preview_plays_unsaved_form_changes(auth, login_as, store):
    login_as("trainer")
    values = forms.form_values(forms.load(SHIPPED))
    r = auth.post("/trainer/preview/start", {"yaml": SHIPPED, "form_original": json.dumps(values),
                                             **dict(values, mood_start="3")})
    assert r.status_code == 200 and r.json["mood"] == 3
    r = auth.post("/trainer/preview/start", {"yaml": SHIPPED, "form_original": json.dumps(values),
                                             **dict(values, mood_start="11")})
    assert r.status_code == 400 and r.json["error"]["field"] == "mood_start"
    assert len(store.persona_versions(PERSONA)) == 1


def test_preview_of_an_invalid_draft_gives_the_line(auth, login_as):
    login_as("trainer")
    r = auth.post("/trainer/preview/start", {"yaml": SHIPPED.replace("difficulty: medium", "difficulty: 9")})
    assert r.status_code == 400 and not r.json["ok"]
    assert r.json["error"]["path"] == "difficulty" and r.json["error"]["line"] == 6


def test_assignments_create_list_delete(auth, login_as, store):
    login_as("trainer")
    trainee = store.get_user_by_name("trainee")
    r = auth.post("/trainer/assignments", {"persona_id": PERSONA, "mode": "exam", "pass_mark": "85",
                                           "due": "2026-12-01", "group_name": "二期",
                                           "trainee_ids": [str(trainee["id"])]})
    assert r.status_code == 302, r.get_data(as_text=True)
    rows = store.rows("SELECT * FROM assignments ORDER BY id")
    assert len(rows) == 2
    assert {(a["trainee_id"], a["group_name"]) for a in rows} == {(trainee["id"], None), (None, "二期")}
    assert all(a["mode"] == "exam" and a["pass_mark"] == 85 and a["version"] == 1 for a in rows)
    assert [a["persona_id"] for a in store.assignments_for_user(store.get_user_by_name("trainee2"))] == [PERSONA]
    page = auth._client.get("/trainer/assignments").get_data(as_text=True)
    assert "考试" in page and "2026-12-01" in page and "组：二期" in page
    r = auth.post(f"/trainer/assignments/{rows[0]['id']}/delete")
    assert r.status_code == 302 and len(store.rows("SELECT * FROM assignments")) == 1
    assert auth.post(f"/trainer/assignments/{rows[0]['id']}/delete").status_code == 404


def test_a_disabled_trainee_is_not_offered_and_cannot_be_assigned(auth, login_as, store):
    trainee2 = store.get_user_by_name("trainee2")
    store.set_disabled(trainee2["id"], True)
    login_as("trainer")
    page = auth._client.get("/trainer/assignments").get_data(as_text=True)
    assert f'value="{trainee2["id"]}"' not in page and "trainee2" not in page
    r = auth.post("/trainer/assignments", {"persona_id": PERSONA, "mode": "practice",
                                           "trainee_ids": [str(trainee2["id"])]})
    assert r.status_code == 400 and "至少选择" in r.get_data(as_text=True)
    assert store.rows("SELECT * FROM assignments") == []


@pytest.mark.parametrize("form,message", [
    ({"mode": "practice", "group_name": "一期"}, "请选择一个角色"),
    ({"persona_id": PERSONA, "mode": "quiz", "group_name": "一期"}, "练习或考试"),
    ({"persona_id": PERSONA, "mode": "practice"}, "至少选择"),
    ({"persona_id": PERSONA, "mode": "practice", "group_name": "一期", "pass_mark": "120"}, "0 到 100"),
    ({"persona_id": PERSONA, "mode": "practice", "group_name": "一期", "due": "明天"}, "YYYY-MM-DD"),
    ({"persona_id": PERSONA, "mode": "practice", "group_name": "没有的组"}, "没有这个学员组"),
])
def test_assignment_bad_input(auth, login_as, store, form, message):
    login_as("trainer")
    r = auth.post("/trainer/assignments", form)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert store.rows("SELECT * FROM assignments") == []


def test_phrasebook_view_lists_rules_with_sources_and_examples(client, login_as):
    from webui.staff.preview import phrasebook
    login_as("trainer")
    page = client.get("/trainer/phrasebook").get_data(as_text=True)
    book = phrasebook()  # the built-in book, as loaded by the app
    for rule in book.rules:
        assert f"<code>{rule.id}</code>" in page
    rule = book.rule("closing.ask-more")
    assert rule.source["seed"] in page and "合格示例" in page and "不合格示例" in page
    assert "<h2>结束语</h2>" in page and "场景：全部" in page


def test_import_far_over_the_request_limit_is_413_too(auth, login_as, store):
    login_as("trainer")
    r = _upload(auth, b"# " + b"x" * 400_000)
    assert r.status_code == 413 and "太" in r.get_data(as_text=True)


def test_import_a_flow_style_file(auth, login_as, store):
    login_as("trainer")
    data = forms.load(forms.STARTER.replace("new-caller", "flow-style"))
    text = json.dumps(data, ensure_ascii=False)            # JSON is YAML too: one line, no "id:" line
    r = _upload(auth, text.encode())
    assert r.status_code == 302, r.get_data(as_text=True)
    assert store.get_persona("flow-style")["yaml"] == text
