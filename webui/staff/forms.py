"""The persona editor's form: a few common fields laid over the full YAML.

Both views edit one persona. The page sends the YAML text plus the form fields and the values the
form was rendered with; a field the trainer changed wins, everything else comes from the YAML.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass

import yaml

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")  # the persona schema's id pattern
# PersonaError text: "source:line: path: message" or "source:line: message" or "source: message"
ERROR_RE = re.compile(r"^(?P<src>.*?):(?P<line>\d+): (?:(?P<path>[A-Za-z_][\w.\[\]-]*|\(top\)): )?(?P<msg>.*)$",
                      re.S)
VERSION_LINE = re.compile(r"^version:[^\n]*$", re.M)
ID_LINE = re.compile(r"^id:[^\n]*$", re.M)


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans, as the persona loader: ``on:`` (a trigger key) stays a string."""


_Loader.yaml_implicit_resolvers = {
    k: [(t, r) for t, r in v if t != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")))


@dataclass(frozen=True)
class Field:
    name: str            # form field name
    path: tuple          # where it lives in the persona YAML
    label: str           # Chinese label
    kind: str = "text"   # text | textarea | int | list | select
    choices: tuple = ()


FIELDS = (
    Field("title", ("title",), "标题"),
    Field("difficulty", ("difficulty",), "难度", "select", ("easy", "medium", "hard")),
    Field("channel", ("channel",), "渠道", "select", ("phone", "chat")),
    Field("company", ("company",), "公司名称"),
    Field("scenarios", ("scenarios",), "场景（逗号分隔）", "list"),
    Field("surname", ("caller", "surname"), "来电人姓氏"),
    Field("background", ("caller", "background"), "来电人背景", "textarea"),
    Field("goal", ("goal",), "来电诉求", "textarea"),
    Field("mood_start", ("mood", "start"), "初始情绪（0 平静 … 10 暴怒）", "int"),
)
BY_NAME = {f.name: f for f in FIELDS}


def _get(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _show(field: Field, value) -> str:
    if value is None:
        return ""
    if field.kind == "list" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def form_values(data) -> dict[str, str]:
    """The form's values for a persona dict (missing keys show as empty)."""
    return {f.name: _show(f, _get(data, f.path)) for f in FIELDS}


def _parse(field: Field, text: str):
    text = text.strip()
    if field.kind == "list":
        return [p.strip() for p in re.split(r"[,，、\s]+", text) if p.strip()]
    if field.kind == "int":
        try:
            return int(text)
        except ValueError:
            return text  # the validator reports it at the right field
    return text


def overlay(data: dict, form, original_json: str) -> dict:
    """Apply the form fields the trainer changed (compared with the rendered values) to ``data``."""
    try:
        original = json.loads(original_json or "{}")
    except ValueError:
        original = {}
    if not isinstance(original, dict):
        original = {}
    for f in FIELDS:
        if f.name not in form:
            continue
        new = form.get(f.name, "").replace("\r\n", "\n")
        if new.strip() == str(original.get(f.name, "")).replace("\r\n", "\n").strip():
            continue
        node = data
        for key in f.path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[f.path[-1]] = _parse(f, new)
    return data


def load(text: str):
    """A YAML text as plain data for the form overlay; None when it does not parse (or uses aliases,
    which could expand without bound). The persona validator reports the exact problem and line."""
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                return None
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return None


def with_version(text: str, version: int) -> str:
    """The YAML text with its top-level ``version:`` set to the stored version number."""
    line = f"version: {int(version)}"
    if VERSION_LINE.search(text):
        return VERSION_LINE.sub(line, text, count=1)
    m = ID_LINE.search(text)
    if m:
        return text[:m.end()] + "\n" + line + text[m.end():]
    return line + "\n" + text


def dump(data: dict) -> str:
    """YAML text for a persona dict, Chinese kept readable."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def problems(text: str, first_error) -> list[dict]:
    """Every problem of a persona text (``check_files`` on a private temporary copy), each as
    ``parse_error`` gives it; ``first_error`` (the PersonaError already raised) when none come."""
    from simulator.personas import check_files

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "persona.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        found = [parse_error(p) for p in check_files([path])]
    return found or [parse_error(first_error)]


def parse_error(err) -> dict:
    """A PersonaError as {line, path, field, message} for showing it beside the field or line."""
    text = str(err)
    m = ERROR_RE.match(text)
    line = path = None
    msg = text
    if m:
        line, path, msg = int(m.group("line")), m.group("path"), m.group("msg")
    else:
        src, sep, rest = text.partition(": ")
        msg = rest if sep and " " not in src else text
    field = None
    if path and path != "(top)":
        parts = tuple(p for p in re.split(r"[.\[\]]+", path) if p)
        for f in FIELDS:
            if parts[:len(f.path)] == f.path:
                field = f.name
    return {"line": line, "path": path, "field": field, "message": msg}


def excerpt(text: str, line: int | None) -> list[tuple[int, str]]:
    """The error's line with two lines either side, numbered, for quoting under the error."""
    if not line:
        return []
    lines = text.split("\n")
    return [(i, lines[i - 1]) for i in range(max(1, line - 2), min(len(lines), line + 2) + 1)]


def at_id(text: str, message: str) -> dict:
    """An error about the persona id, placed at the ``id:`` line."""
    m = ID_LINE.search(text)
    line = text[:m.start()].count("\n") + 1 if m else None
    return {"line": line, "field": None, "path": "id", "message": message}


STARTER = """\
# 新角色：先改 id（小写字母、数字、连字符），再改下面的内容；保存后可以随时试拨。
id: new-caller
title: 咨询话费的客户
difficulty: easy
channel: phone
company: 星海宽带
scenarios: [general]
caller:
  surname: 王
  gender: female
  address_as: 王女士
  background: 退休教师，这个月话费比平时多了二十元。
goal: 弄清楚这个月话费为什么变多。
facts:
  phone:
    value: "13900001111"
    reveal: when_asked
    ask_patterns: ["手机号|电话号码|联系电话|号码"]
    say: 我的号码是{value}。
mood:
  start: 4
lines:
  open:
    - 喂，你好，我想问一下话费的事。
  state_need:
    - 我这个月话费怎么多了二十块钱？
  complain:
    - 我什么都没多用啊，怎么就多了呢？
  accept:
    - 好的，那我明白了，谢谢你。
  goodbye:
    - 好，没别的事了，再见。
"""
