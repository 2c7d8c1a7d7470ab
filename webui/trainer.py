"""Trainer pages: personas (list, edit as form or YAML, versions, preview call, import, export),
assignments and a read-only phrasebook. Roles: trainer or admin.

A save never overwrites: it adds the next version, so past calls keep the version they used.
"""

from __future__ import annotations

import difflib
import json
import re

from flask import (Blueprint, Response, abort, flash, g, jsonify, redirect, render_template,
                   request, url_for)

from simulator.errors import PeilianError, PersonaError
from simulator.personas import MAX_BYTES, parse_persona_text
from simulator.store import trainer_admin

from .auth import role_required
from .db import get_store
from .staff import assign, forms, preview, timefmt

bp = Blueprint("trainer", __name__, url_prefix="/trainer")
SOURCE = "persona"
REPLY_MAX = 500


def _parse(text: str):
    return parse_persona_text(text, source=SOURCE)


bp.add_app_template_filter(timefmt.when, "when")


@bp.app_template_filter("seed_name")
def seed_name(file_name):
    """《title》 of a seed standard by its file name (the file name itself when unknown)."""
    name = preview.SEED_NAMES.get(file_name or "")
    return f"《{name}》" if name else (file_name or "")


@bp.route("/")
@role_required("trainer")
def index():
    return render_template("trainer/index.html", personas=get_store().list_personas())


@bp.route("/personas/new", methods=("GET", "POST"))
@role_required("trainer")
def new_persona():
    return _editor(None)


@bp.route("/personas/<persona_id>", methods=("GET", "POST"))
@role_required("trainer")
def edit_persona(persona_id):
    return _editor(persona_id)


def _editor(persona_id):
    store = get_store()
    current = None
    if persona_id is not None:
        version = request.args.get("version", type=int)
        current = store.get_persona(persona_id, version)
        if current is None:
            abort(404)
    if request.method == "GET":
        text = current["yaml"] if current else forms.STARTER
        values = forms.form_values(forms.load(text) or {})
        return _render_editor(current, text, values, values)

    text = _draft()
    if text is None:
        text = (request.form.get("yaml") or "").replace("\r\n", "\n")
        return _fail(current, text, _persona_errors(text))
    if len(text.encode("utf-8")) > MAX_BYTES:
        return _fail(current, text, [{"line": None, "field": None, "path": None,
                                      "message": f"内容太长（上限 {MAX_BYTES // 1024} KB）"}])
    try:
        persona = _parse(text)
    except PersonaError as e:
        return _fail(current, text, forms.problems(text, e))
    latest = store.get_persona(persona.id)
    if persona_id is None and latest is not None:
        return _fail(current, text, [forms.at_id(text, f"角色 id “{persona.id}” 已存在；请换一个 id，或去编辑那个角色")])
    if persona_id is not None and persona.id != persona_id:
        return _fail(current, text, [forms.at_id(text, f"id 不能修改（应为 {persona_id}）；要另建角色请用“新建角色”")])
    version, created = _save(store, persona, text, latest)
    if created:
        flash(f"已保存为新版本 v{version}；之前的通话仍使用它们当时的版本。")
    else:
        flash(f"没有改动，仍是版本 v{version}。")
    return redirect(url_for("trainer.edit_persona", persona_id=persona.id))


def _draft() -> str | None:
    """The persona text the editor sent: the YAML, with the form fields the trainer changed laid
    over it (then regenerated). None when fields changed but the YAML does not parse."""
    text = (request.form.get("yaml") or "").replace("\r\n", "\n")
    original = _original()
    changed = any(request.form.get(f.name, "").replace("\r\n", "\n").strip()
                  != str(original.get(f.name, "")).replace("\r\n", "\n").strip()
                  for f in forms.FIELDS if f.name in request.form)
    if not changed:
        return text
    data = forms.load(text)
    if not isinstance(data, dict):
        return None
    return forms.dump(forms.overlay(data, request.form, request.form.get("form_original", "")))


def _save(store, persona, text, latest):
    """Store as the next version (the YAML's ``version:`` set to it); unchanged text adds nothing."""
    if latest is not None and forms.with_version(text, latest["version"]) == latest["yaml"]:
        return latest["version"], False
    number = (latest["version"] + 1) if latest else 1
    versioned = forms.with_version(text, number)
    try:  # a flow-style file ({id: …}) has no line to set; it is stored as written
        persona, text = _parse(versioned), versioned
    except PersonaError:
        pass
    return store.add_persona_version(persona.id, text, title=persona.title,
                                     difficulty=persona.difficulty, channel=persona.channel,
                                     scenarios=persona.scenarios, created_by=g.user["id"])


def _original() -> dict:
    try:
        data = json.loads(request.form.get("form_original") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _persona_errors(text):
    try:
        _parse(text)
    except PersonaError as e:
        return forms.problems(text, e)
    return [{"line": None, "field": None, "path": None, "message": "YAML 无法解析"}]


def _fail(current, text, errors):
    """Show the text as sent with the error; the form shows what the text says (when it parses),
    else what was typed, with the trainer's unsaved form changes kept as changes."""
    data = forms.load(text)
    if isinstance(data, dict):
        values = original = forms.form_values(data)
    else:
        values = {f.name: request.form.get(f.name, "") for f in forms.FIELDS}
        original = _original()
    return _render_editor(current, text, values, original, errors=errors), 400


def _render_editor(current, text, values, original, errors=()):
    versions = trainer_admin.versions_with_use(get_store(), current["persona_id"]) if current else []
    error = errors[0] if errors else None
    by_field: dict[str, list[str]] = {}
    for e in errors:
        if e.get("field"):
            by_field.setdefault(e["field"], []).append(e["message"])
    return render_template("trainer/edit.html", current=current, text=text, values=values,
                           original=json.dumps(original, ensure_ascii=False), fields=forms.FIELDS,
                           error=error, errors=errors, by_field=by_field, versions=versions,
                           excerpt=forms.excerpt(text, error and error.get("line")))


@bp.route("/preview/start", methods=("POST",))
@role_required("trainer")
def preview_start():
    text = _draft()  # the whole editor form: unsaved form changes are played too
    try:
        if text is None:
            _parse(request.form.get("yaml") or "")
            raise PersonaError("YAML 无法解析")
        persona = _parse(text)
    except PersonaError as e:
        return jsonify(ok=False, error=forms.parse_error(e)), 400
    try:
        return jsonify(preview.start(persona, text))
    except PeilianError as e:
        return jsonify(ok=False, error={"message": str(e)}), 503


@bp.route("/preview/reply", methods=("POST",))
@role_required("trainer")
def preview_reply():
    text = (request.form.get("text") or "").strip()[:REPLY_MAX]
    if not text:
        return jsonify(ok=False, error={"message": "请输入回复"}), 400
    try:
        out = preview.reply(request.form.get("token") or "", text, _parse)
    except PeilianError as e:
        return jsonify(ok=False, error={"message": str(e)}), 400
    if out is None:
        return jsonify(ok=False, error={"message": "试拨已过期，请重新开始"}), 400
    return jsonify(out)


@bp.route("/personas/<persona_id>/export")
@role_required("trainer")
def export_persona(persona_id):
    row = get_store().get_persona(persona_id, request.args.get("version", type=int))
    if row is None:
        abort(404)
    safe = re.sub(r"[^a-z0-9-]", "", row["persona_id"]) or "persona"
    return Response(row["yaml"], mimetype="application/x-yaml",
                    headers={"Content-Disposition": f'attachment; filename="{safe}-v{row["version"]}.yaml"'})


@bp.route("/personas/<persona_id>/diff")
@role_required("trainer")
def diff_persona(persona_id):
    """What changed between two stored versions (default: the previous one and the latest)."""
    store = get_store()
    new = store.get_persona(persona_id, request.args.get("to", type=int))
    if new is None:
        abort(404)
    old = store.get_persona(persona_id, request.args.get("from", type=int) or max(1, new["version"] - 1))
    if old is None:
        abort(404)
    lines = list(difflib.unified_diff(old["yaml"].split("\n"), new["yaml"].split("\n"),
                                      f"v{old['version']}", f"v{new['version']}", lineterm="", n=2))
    return render_template("trainer/diff.html", persona_id=persona_id, old=old, new=new, lines=lines)


@bp.route("/personas/import", methods=("GET", "POST"))
@role_required("trainer")
def import_persona():
    if request.method == "GET":
        return render_template("trainer/import.html", error=None, excerpt=[])
    if request.content_length and request.content_length > MAX_BYTES + 4096:
        abort(413, description=f"上传的文件太大：角色文件最大 {MAX_BYTES // 1024} KB。")
    upload = request.files.get("file")
    if upload is None:
        return render_template("trainer/import.html", error={"message": "请选择一个 .yaml 文件"},
                               excerpt=[]), 400
    data = upload.read(MAX_BYTES + 1)  # the filename is never used: the id comes from the content
    if len(data) > MAX_BYTES:
        abort(413, description=f"上传的文件太大：角色文件最大 {MAX_BYTES // 1024} KB。")
    try:
        text = data.decode("utf-8").replace("\r\n", "\n")
        persona = _parse(text)
    except UnicodeDecodeError:
        return render_template("trainer/import.html", excerpt=[],
                               error={"message": "文件不是 UTF-8 文本"}), 400
    except PersonaError as e:
        errors = forms.problems(text, e)
        return render_template("trainer/import.html", error=errors[0], errors=errors,
                               excerpt=forms.excerpt(text, errors[0]["line"])), 400
    store = get_store()
    version, created = _save(store, persona, text, store.get_persona(persona.id))
    flash(f"已导入角色 {persona.id}，版本 v{version}。" if created else f"角色 {persona.id} 没有改动（v{version}）。")
    return redirect(url_for("trainer.edit_persona", persona_id=persona.id))


@bp.route("/assignments", methods=("GET", "POST"))
@role_required("trainer")
def assignments():
    store = get_store()
    error, status = None, 200
    if request.method == "POST":
        error = assign.create(store, request.form, g.user["id"])
        if error is None:
            return redirect(url_for("trainer.assignments"))
        status = 400
    return render_template("trainer/assignments.html", error=error, form=request.form,
                           personas=store.list_personas(), trainees=store.list_users("trainee", active_only=True),
                           groups=store.groups(), rows=trainer_admin.list_assignments(store)), status


@bp.route("/assignments/<int:assignment_id>/delete", methods=("POST",))
@role_required("trainer")
def delete_assignment(assignment_id):
    if not trainer_admin.delete_assignment(get_store(), assignment_id):
        abort(404)
    flash("已删除该任务；已完成的通话记录保留。")
    return redirect(url_for("trainer.assignments"))


@bp.route("/phrasebook")
@role_required("trainer")
def phrasebook():
    """The phrasebook, read-only, by area (one file each); each rule says its scenarios."""
    try:
        book = preview.phrasebook()
    except PeilianError as e:
        abort(503, description=f"话术库无法加载：{e}")
    areas: dict[str, list] = {}
    for rule in book.rules:
        areas.setdefault(rule.file, []).append(rule)
    order = [(f"a-{i}", preview.area_title(f), areas[f]) for i, f in enumerate(areas)]
    return render_template("trainer/phrasebook.html", book=book, areas=order)
