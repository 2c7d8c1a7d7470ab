"""Compiled alternatives of a rule (regexes, literal phrases, fuzzy phrases) with negation filters.

All alternatives of one matcher run as a single combined regex per turn (speed), and every hit is
reported in original-text coordinates.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

try:
    from re import _constants as _sre_c, _parser as _sre_parse
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _sre_c
    import sre_parse as _sre_parse

from rapidfuzz import fuzz

from .text import Norm, company_kind_regex, company_regex, fold, fold_pattern, strip_punct

COMPANY = "{company}"
KIND = "{company_kind}"


def _fill(rx: str, company: str | None) -> str:
    """The regex with the transcript's company (and its kind of business) filled in."""
    if KIND in rx:
        rx = rx.replace(KIND, company_kind_regex(company))
    return rx.replace(COMPANY, company_regex(company))


@dataclass(frozen=True)
class Hit:
    start: int  # original-text offsets, [start, end)
    end: int
    alt: int    # index of the alternative that matched


def phrase_regex(phrase: str, bare: bool = False) -> str:
    """A literal phrase as a regex on normalized text ({company} stays a placeholder)."""
    parts = phrase.split(COMPANY)
    norm = [fold(p) for p in parts]
    if bare:
        norm = [strip_punct(p) for p in norm]
    return COMPANY.join(re.escape(p) for p in norm)


def pattern_regex(pattern: str) -> str:
    return fold_pattern(pattern)


def check_regex(rx: str) -> None:
    """Raise re.error if the (placeholder-filled) regex does not compile."""
    for company in ("星海宽带", None):
        re.compile(_fill(rx, company))


# Characters in most replies: a requirement of one of them filters nothing, so a longer or rarer one
# is preferred when a regex offers a choice.
_COMMON = frozenset("的了我你您是不这也都在有一个没就说好吗们吧啊呢么那他她它要会可以能到和跟给为请问什么怎样"
                    "看去来过对还很把被让再先又已经,.?!。")


def _weight(x: str) -> float:
    return len(x) if len(x) > 1 else (0.5 if x in _COMMON else 1)


def _better(a: frozenset, b: frozenset) -> bool:
    return (min(map(_weight, a)), -len(a)) > (min(map(_weight, b)), -len(b))


def _need(seq) -> frozenset | None:
    """Strings one of which every match of a parsed regex sequence contains (None: none known)."""
    best, run = None, []

    def consider(cand):
        nonlocal best
        if cand and (best is None or _better(cand, best)):
            best = cand

    def flush():
        if run:
            consider(frozenset(["".join(run)]))
            run.clear()

    for op, av in seq:
        if op is _sre_c.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op is _sre_c.IN:
            if av and all(o is _sre_c.LITERAL for o, _ in av):
                consider(frozenset(chr(a) for _, a in av))
        elif op is _sre_c.SUBPATTERN:
            consider(_need(av[-1]))
        elif op is _sre_c.BRANCH:
            subs = [_need(b) for b in av[1]]
            if all(subs):
                consider(frozenset().union(*subs))
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[0] >= 1:
            consider(_need(av[2]))
    flush()
    return best


@functools.lru_cache(maxsize=4096)
def _need_of(rx: str) -> frozenset | None:
    """``_need`` of one regex, lowercased like the text (the same regex recurs across rules)."""
    try:
        need = _need(_sre_parse.parse(rx))
    except Exception:  # noqa: BLE001 - any surprise: no shortcut, the regex decides
        return None
    return frozenset(x.lower() for x in need) if need else None


def required_literals(regexes) -> frozenset | None:
    """For a list of regexes (folded, placeholders filled): strings one of which any match of any of
    them contains, lowercased like the text; None when some regex has no such string (or is odd).
    A text containing none of them cannot match, so the regex search can be skipped."""
    out = set()
    for rx in regexes:
        need = _need_of(rx)
        if need is None:
            return None
        out |= need
    return frozenset(out) or None


class Matcher:
    """Alternatives + filters (``unless``, ``unless_in_clause``, ``negated_by``) for one rule key."""

    def __init__(self, patterns=(), phrases=(), similar=(), threshold=0.85, ignore_punct=False,
                 unless=None, unless_in_clause=None, negated_by=(), negation_window=2):
        self.sources = list(patterns) + list(phrases)        # alternative index -> what the author wrote
        self._rx = [pattern_regex(p) for p in patterns] + [phrase_regex(p) for p in phrases]
        self._rx_bare = [pattern_regex(p) for p in patterns] + [phrase_regex(p, bare=True) for p in phrases]
        self.similar = [strip_punct(fold(s)) for s in similar]
        self.sources += list(similar)
        self.threshold = threshold * 100
        self.ignore_punct = ignore_punct
        self.unless = unless
        self.unless_in_clause = unless_in_clause
        self.negators = [fold(n) for n in negated_by]
        self.window = negation_window
        self._compiled: dict = {}
        self._by_company = any(COMPANY in rx or KIND in rx for rx in self._rx)
        rx, rx_bare, lits = self._regexes(None)           # precompile at load time
        # the common case (one company-independent regex, nothing fuzzy): a miss costs one search,
        # or none when the text holds none of the strings every match needs
        self.quick = rx if not (self._by_company or self.similar or rx_bare is not None) else None
        self.quick_lits = lits

    def __len__(self) -> int:
        return len(self.sources)

    def _regexes(self, company):
        got = self._compiled.get(company)
        if got is None:
            def combine(rxs):
                alts = [f"(?P<a{k}>{_fill(rx, company)})" for k, rx in enumerate(rxs) if rx]
                return re.compile("|".join(alts), re.IGNORECASE) if alts else None

            lits = required_literals([_fill(rx, company) for rx in self._rx if rx])
            if lits is not None:     # one search for the strings: faster than the full alternatives
                lits = re.compile("|".join(re.escape(x) for x in sorted(lits, key=len, reverse=True)))
            got = (combine(self._rx), combine(self._rx_bare) if self.ignore_punct else None, lits)
            self._compiled[company] = got
        return got

    def raw(self, norm: Norm, company: str | None = None) -> list[Hit]:
        """All hits before filtering, ordered by position."""
        if not self._by_company:
            company = None                                # one compiled form serves every company
        rx, rx_bare, lits = self._compiled.get(company) or self._regexes(company)
        if not self.similar and rx_bare is None and (rx is None or _misses(rx, lits, norm.full.text)):
            return []                                    # the common case: no hit, one regex search
        hits = []
        for view, r in ((norm.full, rx), (rx_bare is not None and norm.bare, rx_bare)):
            if r is None:
                continue
            for m in r.finditer(view.text):
                if m.end() > m.start():
                    s, e = view.span(m.start(), m.end())
                    hits.append(Hit(s, e, int(m.lastgroup[1:])))
        if self.similar:
            base = len(self._rx)
            bare = norm.bare
            for k, phrase in enumerate(self.similar):
                if not bare.text:
                    break
                al = fuzz.partial_ratio_alignment(phrase, bare.text, score_cutoff=self.threshold)
                # a short reply inside the phrase scores 100 too: the matched text must be most of it
                if al is not None and al.dest_end - al.dest_start >= 0.75 * len(phrase):
                    s, e = bare.span(al.dest_start, al.dest_end)
                    hits.append(Hit(s, e, base + k))
        if len(hits) > 1:
            hits = sorted(set(hits), key=lambda h: (h.start, -h.end, h.alt))
        return hits

    def find(self, norm: Norm, company: str | None = None) -> list[Hit]:
        """Hits that survive the negation filters."""
        if self.quick is not None and _misses(self.quick, self.quick_lits, norm.full.text):
            return []
        hits = self.raw(norm, company)
        if not hits:
            return hits
        if self.unless is not None:
            blockers = self.unless.raw(norm, company)
            if blockers:
                hits = [h for h in hits if not any(_touches(norm.original, h, u) for u in blockers)]
        if self.unless_in_clause is not None and hits:
            blockers = self.unless_in_clause.raw(norm, company)
            if blockers:
                hits = [h for h in hits if not any(
                    _touches(norm.original, h, u) or norm.clause(u.start) == norm.clause(h.start)
                    for u in blockers)]
        if self.negators and hits:
            hits = [h for h in hits if not self._negated(norm, h)]
        return hits

    def _negated(self, norm: Norm, h: Hit) -> bool:
        before = fold(norm.original[norm.clause_start(h.start):h.start])[-self.window:]
        return any(n in before for n in self.negators)


def _misses(rx, lits, text: str) -> bool:
    """True when ``rx`` cannot match ``text``: none of the strings every match needs is in it (``lits``,
    a regex of them), or the search finds nothing."""
    return (lits is not None and lits.search(text) is None) or rx.search(text) is None


def _touches(original: str, h: Hit, u: Hit) -> bool:
    """Overlapping, or adjacent with nothing but whitespace between."""
    if u.start < h.end and u.end > h.start:
        return True
    if u.end <= h.start:
        return not original[u.end:h.start].strip()
    return not original[h.end:u.start].strip()
