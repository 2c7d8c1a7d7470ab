"""Grading a call: live, one reply at a time (LiveGrader), or a whole transcript at once (grade).

grade() is LiveGrader fed every turn, so a live call and the same call graded afterwards give the
same report. Per-reply cost stays flat: each turn is normalized once, scope state is kept per call,
and end-of-call operators run only in report(final=True).
"""

from __future__ import annotations

from ..errors import TranscriptError
from ..transcript import Transcript, Turn, from_dict
from .matcher import Hit
from .text import fold
from .operators import required_met, required_open, required_within
from .scoring import score_findings

NO_COMPANY = "（公司名称）"


class CallContext:
    """What operators see: the turns so far, their normalized text, cached matches, finding factory."""

    def __init__(self, company=None, channel="phone", excerpt=False):
        self.company, self.channel, self.excerpt = company, channel, excerpt
        self.turns: list[Turn] = []
        self._norms: list = []
        self._prev_agent: list = []       # turn index -> index of the agent turn before it, or None
        self.agent_idx: list[int] = []
        self._cache: list[dict] = []
        self._texts: dict = {}            # rule id -> (message, suggestion) with {company} filled
        self._state: dict = {}            # rule id -> operator's own per-call memory

    def append(self, turn: Turn) -> int:
        from .text import Norm
        i = len(self.turns)
        self._prev_agent.append(self.agent_idx[-1] if self.agent_idx else None)
        self.turns.append(turn)
        self._norms.append(Norm(turn.text))
        self._cache.append({})
        if turn.role == "agent":
            self.agent_idx.append(i)
        return i

    def norm(self, i):
        return self._norms[i]

    def prev_agent(self, i):
        return self._prev_agent[i]

    def state(self, rule) -> dict:
        """Per-call memory an operator may keep for a rule (e.g. what it already reported)."""
        return self._state.setdefault(rule.id, {})

    def reset_state(self, rule) -> None:
        self._state.pop(rule.id, None)

    def hits(self, matcher, i) -> list[Hit]:
        cache = self._cache[i]                       # per turn: matcher -> its hits in that turn
        got = cache.get(matcher)
        if got is None:
            got = cache[matcher] = matcher.find(self._norms[i], self.company)
        return got

    def finding(self, rule, i, verdict, hit=None, span=None, evidence=None, note=None) -> dict:
        """A finding dict as in DESIGN.md, quoting the original text of turn ``i``."""
        text = self.turns[i].text
        if hit is not None:
            span = (hit.start, hit.end)
        if span is not None:
            evidence = text[span[0]:span[1]]
        elif evidence is None:
            span, evidence = (0, len(text)), text
        texts = self._texts.get(rule.id)
        if texts is None:
            name = self.company or NO_COMPANY
            texts = self._texts[rule.id] = (rule.message.replace("{company}", name),
                                            rule.suggestion.replace("{company}", name))
        return {"turn": i, "rule": rule.id, "verdict": verdict, "severity": rule.severity,
                "dimension": rule.dimension, "evidence": evidence,
                "span": list(span) if span is not None else None,
                "message": texts[0] + (note or ""), "suggestion": texts[1],
                "source": {"seed": rule.source["seed"], "clause": rule.source["clause"]},
                "tags": list(rule.tags)}


def _applies(rule, channel, scenarios, excerpt, company=None) -> bool:
    # opens_with: an excerpt that starts where the call starts (（电话接通）) holds the call's first turns
    if channel not in rule.channels or (excerpt and rule.whole_call and "opens_with" not in rule.when):
        return False
    if company and "company" in rule.when and not any(rx.search(fold(company)) for rx in rule.when["company"]):
        return False             # e.g. retention is a telecom rule (seed 002): not for a bank's account
    return not scenarios or "all" in rule.scenarios or any(s in rule.scenarios for s in scenarios)


class LiveGrader:
    """Grade a call as it happens: add_turn() after each turn, report() at any time."""

    def __init__(self, book, channel="phone", company=None, scenarios=(), excerpt=False):
        self.book = book
        self.ctx = CallContext(company, channel, excerpt)
        rules = [r for r in book.rules if _applies(r, channel, tuple(scenarios), excerpt, company)]
        self._live = [r for r in rules if r.phase == "live" and r.turn == "any"]
        # required with within: N is met by a later agent turn too, so it sees every agent turn
        self._within = {r.id for r in self._live if r.compiled.get("within", 1) > 1}
        self._first = [r for r in rules if r.phase == "live" and r.turn == "first"]
        self._final = [r for r in rules if r.phase == "final"]
        # call_has watches caller turns, unless_call_has every turn: matcher id -> first turn that matched
        self._watch = {id(r.when[k]): (r.when[k], k == "call_has") for r in rules
                       for k in ("call_has", "unless_call_has") if k in r.when}
        self._seen_at: dict = {}
        self._first_done: set = set()    # ids of turn-first rules whose first agent turn has passed
        self._findings: list[dict] = []

    @property
    def turns(self) -> list[Turn]:
        return self.ctx.turns

    def add_turn(self, turn) -> list[dict]:
        """Append one turn (Turn or {role, text, at}); return the findings it produced."""
        turn = _as_turn(turn, len(self.ctx.turns))
        ctx = self.ctx
        i = ctx.append(turn)
        for key, (m, callers_only) in self._watch.items():
            if key not in self._seen_at and (turn.role == "caller" or not callers_only) and ctx.hits(m, i):
                self._seen_at[key] = i
        if turn.role == "caller":
            return []
        out = []
        for r in self._first:
            if r.id not in self._first_done and self._countable(r, i):
                self._first_done.add(r.id)
                if ctx.excerpt and "opens_with" in r.when and not ctx.hits(r.when["opens_with"], 0):
                    continue             # this excerpt starts mid-call: its first agent turn is no opening
                if self._in_scope(r, i):
                    out.extend(r.op.fn([i], r, ctx))
        for r in self._live:
            if r.id in self._within:
                out.extend(required_within(i, self._in_scope(r, i), r, ctx))
            elif r.op.name == "forbidden":
                # stateless and usually silent: look for the phrase first, the (costlier) scope only on a hit
                found = list(r.op.fn([i], r, ctx))
                if found and self._in_scope(r, i):
                    out.extend(found)
            elif self._in_scope(r, i):
                out.extend(r.op.fn([i], r, ctx))
        self._findings.extend(out)
        return out

    def _countable(self, rule, i) -> bool:
        """Whether agent turn i counts as a turn for this rule at all (``unless_agent`` skips it)."""
        return "unless_agent" not in rule.when or not self.ctx.hits(rule.when["unless_agent"], i)

    def _in_scope(self, rule, i, final=False) -> bool:
        ctx, when = self.ctx, rule.when
        if not when:
            return True
        pickup = "defer_pickup" in when and not ctx.excerpt
        first = ctx.agent_idx[0]
        if pickup and i == first and self._pickup_deferred(rule, i):
            return False                 # the greeting answers the ringing phone, not the caller's words
        prev = ctx.turns[i - 1] if i > 0 else None
        after_caller = prev is not None and prev.role == "caller"
        if "after_caller" in when and not (after_caller and ctx.hits(when["after_caller"], i - 1)) \
                and not (pickup and ctx.prev_agent(i) == first and self._carried(rule, i)):
            return False
        if "unless_after_caller" in when and after_caller and ctx.hits(when["unless_after_caller"], i - 1):
            return False
        if not self._countable(rule, i):
            return False
        if "after_agent" in when:
            j = ctx.prev_agent(i)
            if j is None or not ctx.hits(when["after_agent"], j):
                return False
        if "call_has" in when:
            at = self._seen_at.get(id(when["call_has"]))
            if at is None or (not final and at > i):
                return False
        if "unless_call_has" in when:
            at = self._seen_at.get(id(when["unless_call_has"]))
            if at is not None and (final or at <= i):
                return False
        return True

    def _pickup_deferred(self, rule, i) -> bool:
        """defer_pickup: agent turn i is the pickup (the call's first agent turn, a greeting matching
        ``defer_pickup``) and does not itself say what the rule asks for."""
        ctx = self.ctx
        return i == ctx.agent_idx[0] and bool(ctx.hits(rule.when["defer_pickup"], i)) \
            and not required_met(i, rule, ctx)

    def _carried(self, rule, i) -> bool:
        """defer_pickup: agent turn i comes right after a deferred pickup, and what the caller said just
        before the pickup calls for this rule (so it is judged here, on the first real reply)."""
        ctx, when = self.ctx, rule.when
        j = ctx.prev_agent(i)
        if j is None or j == 0 or ctx.turns[j - 1].role != "caller" or not self._pickup_deferred(rule, j):
            return False
        if "unless_after_caller" in when and ctx.hits(when["unless_after_caller"], j - 1):
            return False
        return bool(ctx.hits(when["after_caller"], j - 1))

    def _final_findings(self, cut_short=False) -> list[dict]:
        ctx, out = self.ctx, []
        if not cut_short:                # a cut call never reached the turn that could still say it
            for r in self._live:
                if r.id in self._within:
                    out.extend(required_open(r, ctx))
        for r in self._final:
            if cut_short and r.whole_call:
                continue
            agents = [i for i in ctx.agent_idx if self._countable(r, i)]
            scope = agents[-1:] if r.turn == "last" else agents[:1] if r.turn == "first" else agents
            scope = [i for i in scope if self._in_scope(r, i, final=True)]
            ctx.reset_state(r)           # end-of-call rules start afresh each time a report is asked for
            out.extend(r.op.fn(scope, r, ctx))
        return out

    def findings(self, final=True, cut_short=False) -> list[dict]:
        """All findings so far, ordered by turn (then by rule order in the phrasebook)."""
        found = self._findings + (self._final_findings(cut_short) if final else [])
        order = {r.id: r.order for r in self.book.rules}
        return sorted(found, key=lambda f: (f["turn"] is None, f["turn"] or 0, order.get(f["rule"], 0)))

    def report(self, final=True, cut_short=False) -> dict:
        """The DESIGN.md report; final=False leaves out the end-of-call rules.

        ``cut_short``: the call stopped before its end (a crash, an abandoned page), so the end-of-call
        rules that need the whole call (closing, surname used twice) would only blame the cut; the
        other end-of-call rules (hedging, terse replies) still judge the turns there are.
        """
        findings = self.findings(final, cut_short)
        rep = score_findings(findings, self.book)
        return {"score": rep["score"], "passed": rep["passed"], "auto_fail": rep["auto_fail"],
                "phrasebook": {"name": self.book.name, "version": self.book.version},
                "dimensions": rep["dimensions"], "findings": findings}


def _as_turn(turn, index) -> Turn:
    if isinstance(turn, Turn):
        return turn
    if isinstance(turn, dict):
        try:
            return from_dict({"turns": [turn]}).turns[0]
        except TranscriptError as e:  # say which turn of the call, not of the one-turn check
            raise TranscriptError(str(e).replace("turn 0", f"turn {index}", 1)) from None
    raise TranscriptError(f"turn {index} must be a Turn or an object with \"role\" and \"text\"")


def grade(transcript, book) -> dict:
    """Grade a whole call (a Transcript or a transcript dict) and return the DESIGN.md report."""
    if not isinstance(transcript, Transcript):
        transcript = from_dict(transcript)
    live = LiveGrader(book, channel=transcript.channel, company=transcript.company,
                      scenarios=transcript.scenarios, excerpt=transcript.excerpt)
    for t in transcript.turns:
        live.add_turn(t)
    return live.report(final=True)
