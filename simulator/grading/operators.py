"""The operators a rule's ``check.op`` names (see OPERATORS.md). Pure functions over the call.

Each operator is ``fn(turns, rule, ctx) -> Iterable[finding]``: ``turns`` are the in-scope agent
turn indices to judge now (one turn when live, all of them at the end of the call for "final" ones).
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Callable

from .text import strip_punct

FILTER_KEYS = frozenset({"unless", "unless_in_clause", "negated_by", "negation_window", "ignore_punct"})
MATCH_KEYS = frozenset({"phrases", "patterns", "similar", "threshold"}) | FILTER_KEYS


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable
    keys: frozenset           # allowed keys of check (besides op)
    phase: str                # "live": judged per reply; "final": at the end of the call
    prepare: Callable         # (check mapping, compiler) -> dict of compiled parts
    whole_call: Callable      # check -> True if the rule cannot be judged on an excerpt


OPERATORS: dict[str, OpSpec] = {}


def operator(name, *, keys, prepare, phase="live", whole_call=lambda check: False):
    """Register an operator under ``name`` for the phrasebook's ``check.op``."""
    def deco(fn):
        OPERATORS[name] = OpSpec(name, fn, frozenset(keys), phase, prepare, whole_call)
        return fn
    return deco


def _main_matcher(check, c):
    c.need_one(check, ("phrases", "patterns", "similar"))
    return {"m": c.matcher(check)}


# ---- forbidden ------------------------------------------------------------------------------

@operator("forbidden", keys=MATCH_KEYS, prepare=_main_matcher)
def forbidden(turns, rule, ctx):
    m = rule.compiled["m"]
    for i in turns:
        hits = ctx.hits(m, i)
        if hits:
            yield ctx.finding(rule, i, "violation", hits[0])


# ---- required -------------------------------------------------------------------------------

def _prep_required(check, c):
    if "all" in check:
        if any(k in check for k in ("any", "phrases", "similar", "at_least")):
            c.fail(check, "all", "\"all\" cannot be combined with any/phrases/similar/at_least")
        groups = c.groups(check, "all")
        return {"groups": [c.matcher(check, patterns=g, alt_keys=False) for g in groups],
                "within": c.integer(check, "within", 1, minimum=1)}
    c.need_one(check, ("any", "phrases", "similar"))
    m = c.matcher(check, patterns=c.regex_list(check, "any"))
    at_least = c.integer(check, "at_least", 1, minimum=1)
    if at_least > len(m):
        c.fail(check, "at_least", f"at_least is {at_least} but there are only {len(m)} alternatives")
    return {"m": m, "at_least": at_least, "within": c.integer(check, "within", 1, minimum=1)}


@operator("required", keys=MATCH_KEYS | {"any", "all", "at_least", "within"}, prepare=_prep_required)
def required(turns, rule, ctx):
    if rule.compiled.get("once"):          # no trigger: once somewhere in the call
        for i in turns:
            span = _required_span(i, rule, ctx)
            if span:
                yield ctx.finding(rule, i, "ok", span=span)
                return
        if turns:
            yield ctx.finding(rule, turns[-1], "missing")
        return
    for i in turns:
        span = _required_span(i, rule, ctx)
        yield ctx.finding(rule, i, "ok", span=span) if span else ctx.finding(rule, i, "missing")


def required_within(i, in_scope, rule, ctx):
    """``required`` with ``within: N`` (live): agent turn i, in scope or not.

    An in-scope turn that does not say it opens the requirement; it is met by this turn or one of
    the next N-1 agent turns (``ok`` on the turn that says it), else ``missing`` on the last of those
    turns, the last chance (at the end of the call: ``required_open``). A new in-scope turn takes
    over a requirement still open, so one lapse is one finding.
    """
    st = ctx.state(rule)
    open_ = st.get("open")                               # [agent turns left, last turn in the window]
    if not (open_ or in_scope):
        return []
    span = _required_span(i, rule, ctx)
    if span:
        st["open"] = None
        return [ctx.finding(rule, i, "ok", span=span)]
    if in_scope:
        open_ = st["open"] = [rule.compiled["within"], i]
    open_[0] -= 1
    open_[1] = i
    if open_[0] > 0:
        return []
    st["open"] = None
    return [ctx.finding(rule, i, "missing")]


def required_open(rule, ctx):
    """The requirement still open when the call ends: ``missing`` on the last agent turn that had the
    chance to say it (the state is kept: more turns may follow)."""
    open_ = ctx.state(rule).get("open")
    return [ctx.finding(rule, open_[1], "missing")] if open_ else []


def required_met(i, rule, ctx) -> bool:
    """Whether agent turn i says what a ``required`` rule asks for."""
    return _required_span(i, rule, ctx) is not None


def _required_span(i, rule, ctx):
    """(start, end) covering what satisfied the rule in turn i, or None."""
    comp = rule.compiled
    if "groups" in comp:
        firsts = []
        for g in comp["groups"]:
            hits = ctx.hits(g, i)
            if not hits:
                return None
            firsts.append(hits[0])
    else:
        firsts = []
        for h in ctx.hits(comp["m"], i):
            if h.alt not in {x.alt for x in firsts}:
                firsts.append(h)
        if len(firsts) < comp["at_least"]:
            return None
        firsts = firsts[:comp["at_least"]]
    return min(h.start for h in firsts), max(h.end for h in firsts)


# ---- count ----------------------------------------------------------------------------------

def _prep_count(check, c):
    c.need_one(check, ("min", "max", "max_ratio"))
    out = _main_matcher(check, c)
    out.update(min=c.integer(check, "min", None, minimum=0), max=c.integer(check, "max", None, minimum=0),
               max_ratio=c.number(check, "max_ratio", None, 0, 1),
               min_turns=c.integer(check, "min_turns", 4, minimum=1))
    return out


@operator("count", keys=MATCH_KEYS | {"min", "max", "max_ratio", "min_turns"}, prepare=_prep_count,
          phase="final", whole_call=lambda check: check.get("min") is not None)
def count(turns, rule, ctx):
    comp = rule.compiled
    per_turn = [(i, ctx.hits(comp["m"], i)) for i in turns]
    flat = [(i, h) for i, hits in per_turn for h in hits]
    total = len(flat)
    lo, hi, ratio = comp["min"], comp["max"], comp["max_ratio"]
    if lo is not None and turns:
        if total < lo:
            yield ctx.finding(rule, turns[-1], "missing", note=f"（全程 {total} 次，至少 {lo} 次）")
        elif lo > 0:
            i, h = flat[lo - 1]
            yield ctx.finding(rule, i, "ok", h, note=f"（全程 {total} 次）")
    if hi is not None and total > hi:
        i, h = flat[hi]
        yield ctx.finding(rule, i, "violation", h, note=f"（全程 {total} 次，至多 {hi} 次）")
    if ratio is not None and len(turns) >= comp["min_turns"]:
        with_hit = [(i, hits) for i, hits in per_turn if hits]
        if len(with_hit) / len(turns) > ratio:
            i, hits = with_hit[-1]
            yield ctx.finding(rule, i, "violation", hits[0],
                              note=f"（{len(turns)} 句中有 {len(with_hit)} 句）")


# ---- response_time --------------------------------------------------------------------------

def _prep_time(check, c):
    since = check.get("since", "caller")
    if since not in ("caller", "any", "start"):
        c.fail(check, "since", "'since' must be caller, any or start")
    hold = c.matcher(check, patterns=c.regex_list(check, "hold", required=True), alt_keys=False) \
        if "hold" in check else None
    return {"seconds": c.number(check, "seconds", None, 0, 3600, required=True), "since": since, "hold": hold}


@operator("response_time", keys={"seconds", "since", "hold"}, prepare=_prep_time)
def response_time(turns, rule, ctx):
    limit, since, hold = rule.compiled["seconds"], rule.compiled["since"], rule.compiled["hold"]
    for i in turns:
        if i == 0:
            continue
        prev, cur = ctx.turns[i - 1], ctx.turns[i]
        if since == "start":            # from the first turn (the line connecting), e.g. the pickup
            start = ctx.turns[0].at
        elif prev.role == "caller" or since == "any":
            start = prev.at
            # hold: the agent asked the caller to wait and only the caller spoke since (喂？还在吗？): the
            # silence is counted from the agent's own request, not from the caller's worried question
            j = ctx.prev_agent(i)
            if start is not None and hold is not None and j is not None and ctx.turns[j].at is not None \
                    and ctx.hits(hold, j):
                start = min(start, ctx.turns[j].at)
        else:
            continue
        if start is not None and cur.at is not None and cur.at - start > limit:
            yield ctx.finding(rule, i, "violation", evidence=f"用时 {cur.at - start:.1f} 秒")


# ---- sequence -------------------------------------------------------------------------------

def _prep_sequence(check, c):
    first = c.matcher(check, patterns=c.regex_list(check, "first", required=True), alt_keys=False)
    then = c.matcher(check, patterns=c.regex_list(check, "then", required=True), alt_keys=False)
    return {"first": first, "then": then, "window": c.integer(check, "window", None, minimum=0)}


@operator("sequence", keys=FILTER_KEYS | {"first", "then", "window"}, prepare=_prep_sequence)
def sequence(turns, rule, ctx):
    comp = rule.compiled
    for i in turns:
        then = ctx.hits(comp["then"], i)
        if not then:
            continue
        before = [h for h in ctx.hits(comp["first"], i) if h.start < then[0].start]
        if before:
            yield ctx.finding(rule, i, "ok", before[0])
            continue
        j, back, found = ctx.prev_agent(i), 0, None
        while j is not None and (comp["window"] is None or back < comp["window"]):
            hits = ctx.hits(comp["first"], j)
            if hits:
                found = (j, hits[-1])
                break
            j, back = ctx.prev_agent(j), back + 1
        if found:
            reported = ctx.state(rule).setdefault("ok", set())
            if (found[0], found[1]) not in reported:     # two goodbyes after one ask: praise it once
                reported.add((found[0], found[1]))
                yield ctx.finding(rule, found[0], "ok", found[1])
        else:
            yield ctx.finding(rule, i, "missing", then[0])


# ---- terse ----------------------------------------------------------------------------------

def _prep_terse(check, c):
    pats = c.regex_list(check, "patterns")
    return {"q": c.matcher({}, patterns=pats, alt_keys=False) if pats else None,
            "max_chars": c.integer(check, "max_chars", 6, minimum=1),
            "min_count": c.integer(check, "min_count", 3, minimum=1)}


def _is_question(ctx, j, q) -> bool:
    if q is not None:
        return bool(ctx.hits(q, j))
    text = ctx.norm(j).full.text.rstrip(".。!~")
    return text.endswith("?") or strip_punct(text).endswith(("吗", "呢", "么"))


_ACTION_ONLY = re.compile(r"^\s*[（(][^（()）]*[）)]\s*$")


@operator("terse", keys={"max_chars", "min_count", "patterns"}, prepare=_prep_terse, phase="final")
def terse(turns, rule, ctx):
    """Short answers to a caller's question; a turn that is only an action, such as （挂机）, answers nothing."""
    comp, n = rule.compiled, 0
    for i in turns:
        if i == 0 or ctx.turns[i - 1].role != "caller" or not _is_question(ctx, i - 1, comp["q"]):
            continue
        if _ACTION_ONLY.match(ctx.norm(i).original):
            continue
        if len(ctx.norm(i).bare.text) < comp["max_chars"]:
            n += 1
            if n == comp["min_count"]:
                yield ctx.finding(rule, i, "violation", note=f"（已有 {n} 次问一句答一句）")


# ---- excessive ------------------------------------------------------------------------------

def _prep_excessive(check, c):
    out = _main_matcher(check, c)
    out["max"] = c.integer(check, "max", 2, minimum=0)
    return out


@operator("excessive", keys=MATCH_KEYS | {"max"}, prepare=_prep_excessive, phase="final")
def excessive(turns, rule, ctx):
    comp = rule.compiled
    flat = [(i, h) for i in turns for h in ctx.hits(comp["m"], i)]
    if len(flat) > comp["max"]:
        i, h = flat[comp["max"]]
        yield ctx.finding(rule, i, "violation", h, note=f"（全程 {len(flat)} 次，至多 {comp['max']} 次）")
