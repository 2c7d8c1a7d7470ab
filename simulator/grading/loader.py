"""Load and validate the phrasebook: YAML rules -> compiled Rule objects, errors with file:line."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PhrasebookError
from . import yamlnodes
from .compiler import Compiler
from .matcher import Matcher, pattern_regex
from .operators import OPERATORS

BUILTIN = Path(__file__).resolve().parent.parent / "phrasebook"
DEFAULT_DIMENSIONS = {"礼貌": 30, "耐心": 20, "沟通": 20, "流程": 30}
DEFAULT_DEDUCTIONS = {"minor": 3, "major": 8, "critical": "all"}
META_KEYS = {"name", "version", "pass_mark", "dimensions", "deductions", "auto_fail", "scenarios", "description"}
RULE_KEYS = {"id", "title", "scenarios", "channels", "dimension", "severity", "tags", "message", "suggestion",
             "source", "whole_call", "when", "check", "example_context", "example_company", "examples", "notes"}
REQUIRED_KEYS = ("id", "dimension", "severity", "message", "source", "check")
WHEN_KEYS = {"turn", "after_caller", "after_agent", "call_has", "unless_after_caller", "unless_call_has",
             "unless_agent", "defer_pickup", "company", "opens_with"}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")


@dataclass
class Rule:
    id: str
    title: str
    dimension: str
    severity: str
    message: str
    suggestion: str
    source: dict
    check: dict
    op: object
    compiled: dict
    scenarios: tuple = ("all",)
    channels: tuple = ("phone", "chat")
    tags: tuple = ()
    whole_call: bool = False
    phase: str = "live"
    turn: str = "any"
    when: dict = field(default_factory=dict)   # key -> Matcher (after_caller, after_agent, call_has, caller_not)
    examples: dict = field(default_factory=dict)
    example_context: tuple = ()
    example_company: str | None = None
    file: str = ""
    line: int = 0
    order: int = 0


@dataclass
class Phrasebook:
    rules: list
    name: str = "default"
    version: str = ""
    pass_mark: float = 80
    dimensions: dict = field(default_factory=lambda: dict(DEFAULT_DIMENSIONS))
    deductions: dict = field(default_factory=lambda: dict(DEFAULT_DEDUCTIONS))
    auto_fail: tuple = ("critical",)
    known_scenarios: tuple = ()

    def __post_init__(self):
        self._by_id = {r.id: r for r in self.rules}

    def rule(self, rule_id: str) -> Rule:
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise PhrasebookError(f"phrasebook has no rule {rule_id!r}") from None

    def rule_ids(self) -> list[str]:
        return [r.id for r in self.rules]

    @property
    def scenarios(self) -> set[str]:
        return {s for r in self.rules for s in r.scenarios if s != "all"}


def load_phrasebook(path=None) -> Phrasebook:
    """Load a phrasebook directory (every *.yaml, plus _meta.yaml) or one rule file; None = built-in."""
    p = Path(path) if path is not None else BUILTIN
    if p.is_dir():
        files = sorted(f for f in p.glob("*.yaml") if f.name != "_meta.yaml")
        meta_file = p / "_meta.yaml"
        if not files:
            raise PhrasebookError(f"{p}: no rule files (*.yaml) in the phrasebook directory")
    elif p.is_file():
        files, meta_file = [p], p.parent / "_meta.yaml"
        if p.name == "_meta.yaml":
            raise PhrasebookError(f"{p}: this is the settings file; give the directory or a rule file")
    else:
        raise PhrasebookError(f"{p}: no such phrasebook file or directory")
    digest = hashlib.sha256()
    meta_text = _read(meta_file) if meta_file.is_file() else None
    if meta_text is not None:
        digest.update(b"_meta.yaml\0" + meta_text.encode("utf-8"))
    book_kw = _meta(meta_text, _where(meta_file)) if meta_text is not None else {}
    rules, seen = [], {}
    for f in files:
        text = _read(f)
        digest.update(f.name.encode("utf-8") + b"\0" + text.encode("utf-8"))
        for rule in _rules_in(text, _where(f), book_kw):
            if rule.id in seen:
                raise PhrasebookError(f"{rule.file}:{rule.line}: duplicate rule id {rule.id!r} "
                                      f"(first at {seen[rule.id]})")
            seen[rule.id] = f"{rule.file}:{rule.line}"
            rule.order = len(rules)
            rules.append(rule)
    version = book_kw.pop("meta_version", None)
    h = digest.hexdigest()
    book_kw["version"] = f"{version}+{h[:8]}" if version else h[:12]
    return Phrasebook(rules=rules, **book_kw)


def _read(f: Path) -> str:
    try:
        return f.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PhrasebookError(f"{f}: cannot read the file ({e})") from None


def _where(f: Path) -> str:
    try:
        return str(f.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(f)


def _meta(text: str, where: str) -> dict:
    data = yamlnodes.load(text, where)
    if data is None:
        return {}
    c = Compiler(where)
    if not isinstance(data, dict):
        raise PhrasebookError(f"{where}:1: _meta.yaml must be a mapping")
    for k in data:
        if k not in META_KEYS:
            c.fail(data, k, f"unknown key {k!r} in _meta.yaml (known: {', '.join(sorted(META_KEYS))})")
    out = {"name": str(data.get("name", "default"))}
    if data.get("version") is not None:
        out["meta_version"] = str(data["version"])
    out["pass_mark"] = c.number(data, "pass_mark", 80, 0, 100)
    for key, default in (("dimensions", DEFAULT_DIMENSIONS), ("deductions", DEFAULT_DEDUCTIONS)):
        v = data.get(key, default)
        if not isinstance(v, dict) or not v:
            c.fail(data, key, f"{key!r} must be a mapping")
        for k, n in v.items():
            ok = (isinstance(n, (int, float)) and not isinstance(n, bool) and n >= 0) or (key == "deductions" and n == "all")
            if not ok:
                c.fail(v, k, f"{key}.{k} must be a number >= 0" + (" or 'all'" if key == "deductions" else ""))
        out[key] = dict(v)
    out["auto_fail"] = tuple(c.strings(data, "auto_fail") or ["critical"])
    out["known_scenarios"] = tuple(c.strings(data, "scenarios"))
    return out


def _rules_in(text: str, where: str, book_kw: dict):
    data = yamlnodes.load(text, where)
    if data is None:
        return
    if isinstance(data, dict):
        if set(data) - {"rules"} or not isinstance(data.get("rules"), list):
            raise PhrasebookError(f"{where}:{data.line}: a rule file is a list of rules or a mapping with one key 'rules'")
        data = data["rules"]
    if not isinstance(data, list):
        raise PhrasebookError(f"{where}:1: a rule file is a list of rules")
    for k, item in enumerate(data):
        if not isinstance(item, dict):
            raise PhrasebookError(f"{where}:{data.line_of(k)}: each rule must be a mapping (id, check, …)")
        yield _rule(item, Compiler(where), where, book_kw)


def _when_matcher(key: str, patterns: tuple) -> Matcher:
    """One Matcher per pattern list for the per-turn scope keys, shared by the rules that repeat it
    (the greeting a dozen rules skip), so a turn is searched for it once. call_has and
    unless_call_has get their own: the engine tracks each of them separately."""
    if key in ("call_has", "unless_call_has"):
        return Matcher(patterns=patterns)
    return _shared_matcher(patterns)


@functools.lru_cache(maxsize=1024)
def _shared_matcher(patterns: tuple) -> Matcher:
    return Matcher(patterns=patterns)


def _rule(m, c: Compiler, where: str, book_kw: dict) -> Rule:
    rid = m.get("id")
    c.label = f"rule {rid}: " if isinstance(rid, str) else ""
    for k in m:
        if k not in RULE_KEYS:
            c.fail(m, k, f"unknown key {k!r} (known: {', '.join(sorted(RULE_KEYS))})")
    for k in REQUIRED_KEYS:
        if k not in m:
            c.fail(m, None, f"missing required key {k!r}")
    if not isinstance(rid, str) or not ID_RE.match(rid):
        c.label = ""
        c.fail(m, "id", f"rule id {rid!r} must look like area.name (lowercase letters, digits, - and _)")
    for k in ("dimension", "severity", "message"):
        if not isinstance(m[k], str) or not m[k]:
            c.fail(m, k, f"{k!r} must be a non-empty string")
    dims = book_kw.get("dimensions", DEFAULT_DIMENSIONS)
    sevs = book_kw.get("deductions", DEFAULT_DEDUCTIONS)
    if m["dimension"] not in dims:
        c.fail(m, "dimension", f"dimension {m['dimension']!r} is not one of {', '.join(dims)}")
    if m["severity"] not in sevs:
        c.fail(m, "severity", f"severity {m['severity']!r} is not one of {', '.join(sevs)}")
    for k in ("title", "message", "suggestion", "example_company"):
        if k in m and not isinstance(m[k], str):
            c.fail(m, k, f"{k!r} must be a string")
    src = m["source"]
    if not isinstance(src, dict) or set(src) != {"seed", "clause"} or not all(isinstance(v, str) and v for v in src.values()):
        c.fail(m, "source", f"source must be {{seed: FILE, clause: QUOTE}}")
    scenarios = c.strings(m, "scenarios") or ["all"]
    known = book_kw.get("known_scenarios")
    for s in scenarios:
        if known and s != "all" and s not in known:
            c.fail(m, "scenarios", f"unknown scenario {s!r} (_meta.yaml lists {', '.join(known)})")
    channels = c.strings(m, "channels") or ["phone", "chat"]
    for ch in channels:
        if ch not in ("phone", "chat"):
            c.fail(m, "channels", f"channel {ch!r} must be phone or chat")
    check = m["check"]
    if not isinstance(check, dict):
        c.fail(m, "check", f"check must be a mapping with an 'op'")
    op = OPERATORS.get(check.get("op"))
    if op is None:
        c.fail(check, "op", f"unknown operator {check.get('op')!r} (known: {', '.join(sorted(OPERATORS))})")
    for k in check:
        if k != "op" and k not in op.keys:
            c.fail(check, k, f"operator {op.name!r} has no key {k!r} (known: {', '.join(sorted(op.keys))})")
    compiled = op.prepare(check, c)
    when_m = m.get("when") or {}
    if not isinstance(when_m, dict):
        c.fail(m, "when", f"when must be a mapping")
    for k in when_m:
        if k not in WHEN_KEYS:
            c.fail(when_m, k, f"unknown key {k!r} in when (known: {', '.join(sorted(WHEN_KEYS))})")
    turn = when_m.get("turn", "any")
    if turn not in ("any", "first", "last"):
        c.fail(when_m, "turn", f"when.turn must be any, first or last")
    when = {k: _when_matcher(k, tuple(c.regex_list(when_m, k, required=True)))
            for k in when_m if k not in ("turn", "company")}
    if "company" in when_m:      # a rule of one kind of business (checked once per call, not per turn)
        when["company"] = tuple(re.compile(pattern_regex(p), re.I)
                                for p in c.regex_list(when_m, "company", required=True))
    if "opens_with" in when and turn != "first":
        c.fail(when_m, "opens_with", "opens_with needs when.turn: first")
    if "defer_pickup" in when and (op.name != "required" or turn != "any" or "after_caller" not in when):
        c.fail(when_m, "defer_pickup", "defer_pickup needs op required, when.after_caller and when.turn: any")
    whole = c.boolean(m, "whole_call") or turn in ("first", "last") or op.whole_call(check)
    phase = "final" if op.phase == "final" or turn == "last" else "live"
    if op.name == "required" and turn == "any" and not {"after_caller", "after_agent"} & set(when):
        compiled["once"] = True   # no trigger: "somewhere in the call", judged at its end
        whole, phase = True, "final"
    if compiled.get("within", 1) > 1 and (compiled.get("once") or turn != "any"):
        c.fail(check, "within", "within needs a trigger (when.after_caller or when.after_agent) and when.turn: any")
    examples = m.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"pass", "fail"} or \
            not all(isinstance(v, list) for v in examples.values()):
        c.fail(m, "examples", f"examples must be {{pass: [...], fail: [...]}}")
    ctx = m.get("example_context") or []
    if not isinstance(ctx, list) or not all(isinstance(t, dict) and set(t) >= {"role", "text"} for t in ctx):
        c.fail(m, "example_context", f"example_context must be a list of {{role, text}} turns")
    return Rule(id=rid, title=m.get("title", rid), dimension=m["dimension"], severity=m["severity"],
                message=m["message"], suggestion=m.get("suggestion", ""), source=dict(src), check=dict(check),
                op=op, compiled=compiled, scenarios=tuple(scenarios), channels=tuple(channels),
                tags=tuple(c.strings(m, "tags")), whole_call=whole,
                phase=phase, turn=turn, when=when,
                examples={k: list(v) for k, v in examples.items()}, example_context=tuple(ctx),
                example_company=m.get("example_company"), file=where, line=m.line)
