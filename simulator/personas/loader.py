"""Read persona YAML safely and report every problem with its file and line.

Trainers write these files by hand and upload them through the web app, so parsing is defensive
(size, tags, anchors, nesting) and each error names the line: ``angry.yaml:14: mood.triggers[2].rule: …``.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..errors import PeilianError, PersonaError
from .schema import Persona
from .yamlsafe import MAX_BYTES, compose, line_of, node_at, path_text, zh

REPO_PERSONAS = Path(__file__).resolve().parents[2] / "personas"
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# The stable rule ids and tags of docs/INTERNALS.md: used when the phrasebook cannot be loaded.
STABLE_RULES = ("opening.greeting", "surname.ask", "surname.use", "closing.ask-more", "closing.thanks-goodbye",
                "angry.soothe", "hold.thanks-after", "response.3s", "silent.procedure",
                "dialect.request-mandarin", "wrong-number.standard", "nuisance.hotline-sentence",
                "price.no-quote", "confidential.no-contact", "apology.standard")
STABLE_TAGS = ("rude", "soothing", "closing", "opening", "hold", "confidential", "price", "line-problem", "slow")


# Chinese for trainers before pydantic's English (the web editor shows these lines as they are).
ZH = {"extra_forbidden": "不认识的键，请检查拼写", "missing": "缺少必填项", "less_than_equal": "不能大于 {le}",
      "greater_than_equal": "不能小于 {ge}", "greater_than": "必须大于 {gt}", "less_than": "必须小于 {lt}",
      "int_parsing": "应为整数", "int_type": "应为整数", "int_from_float": "应为整数", "float_parsing": "应为数字",
      "float_type": "应为数字", "string_type": "应为文字", "list_type": "应为列表", "dict_type": "应为键值映射",
      "model_type": "应为键值映射", "model_attributes_type": "应为键值映射", "literal_error": "不是允许的取值",
      "enum": "不是允许的取值", "string_too_short": "不能为空", "string_too_long": "太长了（最多 {max_length} 个字）",
      "too_short": "至少要有 {min_length} 项", "too_long": "最多 {max_length} 项",
      "string_pattern_mismatch": "格式不对（只用小写字母、数字和连字符）", "union_tag_invalid": "on 的取值不对",
      "union_tag_not_found": "缺少 on（触发条件的类型）", "bool_type": "应为 true 或 false", "bool_parsing": "应为 true 或 false"}


def _message(err: dict) -> str:
    kind = err["type"]
    msg = {"extra_forbidden": "unknown key", "missing": "missing required key"}.get(kind, err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]  # our own validators already say it in both languages
    if kind in ZH:
        try:
            return zh(msg, ZH[kind].format(**(err.get("ctx") or {})))
        except (KeyError, IndexError):
            return zh(msg, ZH[kind].split("（")[0])
    return msg


def _format(source, root, loc, msg) -> tuple[int, str]:
    node, parts = node_at(root, loc)
    line = line_of(node.start_mark)
    return line, f"{source}:{line}: {path_text(parts)}: {msg}"


@functools.lru_cache(maxsize=1)
def _references():
    """(rule ids, tags, scenarios) from the phrasebook; the stable lists when it cannot be loaded."""
    try:
        from ..grading import load_phrasebook
        book = load_phrasebook()
        rules = book.rules.values() if isinstance(book.rules, dict) else book.rules
        tags = set()
        for r in rules:
            tags.update((r.get("tags") if isinstance(r, dict) else getattr(r, "tags", None)) or ())
        # the stable ids and tags are a contract (docs/INTERNALS.md): accept them even before the book has them
        scenarios = set(getattr(book, "known_scenarios", ()) or ()) | set(book.scenarios)
        return set(book.rule_ids()) | set(STABLE_RULES), tags | set(STABLE_TAGS), scenarios or None
    except (ImportError, PeilianError, AttributeError, TypeError):
        return set(STABLE_RULES), set(STABLE_TAGS), None


def _ref_matches(ref: str, rule_ids, tags) -> bool:
    return ref in tags or any(fnmatch.fnmatchcase(r, ref) for r in rule_ids)


def _reference_errors(data: dict) -> list[tuple[tuple, str]]:
    """Phrasebook references (scenarios, trigger rules and tags, satisfied_when.findings), from the raw
    data so they are reported even when other keys are broken."""
    rule_ids, tags, scenarios = _references()
    errs = []
    raw = data.get("scenarios")
    if scenarios is not None and isinstance(raw, list):
        for i, s in enumerate(raw):
            if isinstance(s, str) and s not in scenarios:
                errs.append((("scenarios", i), zh(f"unknown scenario '{s}' (phrasebook scenarios: {', '.join(sorted(scenarios))})", "话术库中没有这个场景")))
    mood = data.get("mood")
    triggers = mood.get("triggers") if isinstance(mood, dict) else None
    for i, t in enumerate(triggers if isinstance(triggers, list) else ()):
        if not isinstance(t, dict) or t.get("on") != "finding":
            continue
        rule, tag = t.get("rule"), t.get("tag")
        if isinstance(rule, str) and not any(fnmatch.fnmatchcase(r, rule) for r in rule_ids):
            errs.append((("mood", "triggers", i, "rule"), zh(f"unknown rule '{rule}' (no such phrasebook rule)", "话术库中没有匹配的规则")))
        if isinstance(tag, str) and tag not in tags:
            errs.append((("mood", "triggers", i, "tag"), zh(f"unknown tag '{tag}' (no phrasebook rule has it)", "没有规则带这个标签")))
    end = data.get("end")
    sw = end.get("satisfied_when") if isinstance(end, dict) else None
    refs = sw.get("findings") if isinstance(sw, dict) else None
    for i, ref in enumerate(refs if isinstance(refs, list) else ()):
        if isinstance(ref, str) and not _ref_matches(ref, rule_ids, tags):
            errs.append((("end", "satisfied_when", "findings", i), zh(f"unknown rule or tag '{ref}' (no such phrasebook rule)", "话术库中没有匹配的规则或标签")))
    return errs


def _semantic_errors(p: Persona) -> list[tuple[tuple, str]]:
    """Cross-field checks pydantic cannot do alone: references to facts, placeholders, thresholds."""
    errs = []
    sw = p.end.satisfied_when
    if isinstance(sw.facts, list):
        for i, k in enumerate(sw.facts):
            if k not in p.facts:
                errs.append((("end", "satisfied_when", "facts", i), zh(f"unknown fact '{k}' (not under facts)", "facts 里没有这一项")))
    known = {"surname", "address_as", "company", *p.facts}
    for kind, ml in p.lines.items():
        for band in ("calm", "annoyed", "angry", "any"):
            for i, line in enumerate(getattr(ml, band)):
                for name in PLACEHOLDER.findall(line):
                    if name not in known and not (name == "value" and kind == "answer"):
                        errs.append((("lines", kind, band, i), zh(f"unknown placeholder {{{name}}}", "未知的占位符")))
    for key, fact in p.facts.items():
        for name in PLACEHOLDER.findall(fact.say or ""):
            if name not in known | {"value"}:
                errs.append((("facts", key, "say"), zh(f"unknown placeholder {{{name}}}", "未知的占位符")))
    if p.end.hangup_when_mood_above is not None and p.mood.hangup_above is not None \
            and p.end.hangup_when_mood_above != p.mood.hangup_above:
        errs.append((("end", "hangup_when_mood_above"), zh("differs from mood.hangup_above; set the threshold once", "与 mood.hangup_above 不一致，只设一处即可")))
    th = p.hangup_threshold
    if th is not None and p.mood.start >= th:
        errs.append((("mood", "start"), zh(f"must be below the hang-up threshold {th}, or the caller hangs up at once", "起始情绪必须低于挂机阈值")))
    if p.speech.line != "silent" and "open" not in p.lines:
        errs.append((("lines",), zh("missing 'open' lines (the caller's first line)", "缺少开场白 open")))
    return errs


def _validate(node, data, source) -> tuple[Persona | None, list[str]]:
    if not isinstance(data, dict):
        return None, [f"{source}:{line_of(node.start_mark)}: " + zh("a persona must be a mapping of keys (id, title, …)", "人设文件应是键值映射")]
    errs = {_format(source, node, loc, msg) for loc, msg in _reference_errors(data)}
    try:
        persona = Persona.model_validate(data)
    except ValidationError as e:
        errs |= {_format(source, node, err["loc"], _message(err)) for err in e.errors()}
        return None, [text for _, text in sorted(errs)]
    errs |= {_format(source, node, loc, msg) for loc, msg in _semantic_errors(persona)}
    return (None if errs else persona), [text for _, text in sorted(errs)]


def _errors_of(text: str, source: str) -> tuple[Persona | None, list[str]]:
    try:
        node, data = compose(text, source)
    except PersonaError as e:
        return None, [str(e)]
    return _validate(node, data, source)


def parse_persona_text(text: str | bytes, source: str = "<upload>") -> Persona:
    """Parse and validate persona YAML text (web upload, trainer editor); raise PersonaError."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise PersonaError(f"{source}: " + zh(f"persona file is too large (the limit is {MAX_BYTES // 1024} KB)", "文件太大"))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PersonaError(f"{source}: " + zh(f"not UTF-8 text (byte {e.start})", "不是 UTF-8 文本")) from None
    persona, errs = _errors_of(text, source)
    if errs:
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise PersonaError(errs[0] + more)
    return persona


def load_persona(path) -> Persona:
    """Load one persona file; raise PersonaError naming the file and line."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise PersonaError(f"cannot read persona file {path}: {e.strerror}") from None
    return parse_persona_text(data, source=str(path))


def personas_dir(path=None) -> Path:
    return Path(path or os.environ.get("PEILIAN_PERSONAS") or REPO_PERSONAS)


def load_all(dir=None) -> list[Persona]:
    """Every ``*.yaml`` persona in a directory (default: $PEILIAN_PERSONAS or the repo's personas/), by id."""
    d = personas_dir(dir)
    if not d.is_dir():
        raise PersonaError(f"persona directory {d} does not exist")
    personas, seen = [], {}
    for f in sorted(d.glob("*.yaml")):
        p = load_persona(f)
        if p.id in seen:
            raise PersonaError(f"{f}: " + zh(f"persona id '{p.id}' is also used by {seen[p.id]}", "人设 id 重复"))
        seen[p.id] = f
        personas.append(p)
    return sorted(personas, key=lambda p: p.id)


def check_files(paths) -> list[str]:
    """Validate persona files; return every problem as ``file:line: path: message`` (empty: all fine)."""
    out = []
    for path in paths:
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except OSError as e:
            out.append(f"{path}: cannot read: {e.strerror}")
            continue
        except UnicodeDecodeError as e:
            out.append(f"{path}: not UTF-8 text (byte {e.start})")
            continue
        out.extend(_errors_of(text, str(path))[1])
    return out


def persona_schema() -> dict:
    """The persona format as JSON Schema (for docs and the trainer's editor)."""
    return Persona.model_json_schema()


def dump_yaml(persona: Persona) -> str:
    data = persona.model_dump(mode="json", exclude_defaults=True)
    for kind, ml in list(data.get("lines", {}).items()):
        if set(ml) == {"any"}:
            data["lines"][kind] = ml["any"]
    data.setdefault("mood", {})
    for key in ("id", "title", "difficulty", "company"):
        data[key] = getattr(persona, key)
    order = ["id", "version", "title", "difficulty", "channel", "company", "scenarios", "caller", "goal",
             "facts", "speech", "mood", "lines", "end"]
    data = {k: data[k] for k in order if k in data}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
