"""Compiled alternatives of a rule (regexes, literal phrases, fuzzy phrases) with negation filters.

All alternatives of one matcher run as a single combined regex per turn (speed), and every hit is
reported in original-text coordinates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
        rx, rx_bare = self._regexes(None)                 # precompile at load time
        # the common case (one company-independent regex, nothing fuzzy): a miss costs one search
        self.quick = rx if not (self._by_company or self.similar or rx_bare is not None) else None

    def __len__(self) -> int:
        return len(self.sources)

    def _regexes(self, company):
        got = self._compiled.get(company)
        if got is None:
            def combine(rxs):
                alts = [f"(?P<a{k}>{_fill(rx, company)})" for k, rx in enumerate(rxs) if rx]
                return re.compile("|".join(alts), re.IGNORECASE) if alts else None

            got = (combine(self._rx), combine(self._rx_bare) if self.ignore_punct else None)
            self._compiled[company] = got
        return got

    def raw(self, norm: Norm, company: str | None = None) -> list[Hit]:
        """All hits before filtering, ordered by position."""
        if not self._by_company:
            company = None                                # one compiled form serves every company
        rx, rx_bare = self._compiled.get(company) or self._regexes(company)
        if not self.similar and rx_bare is None and (rx is None or rx.search(norm.full.text) is None):
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
        if self.quick is not None and self.quick.search(norm.full.text) is None:
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


def _touches(original: str, h: Hit, u: Hit) -> bool:
    """Overlapping, or adjacent with nothing but whitespace between."""
    if u.start < h.end and u.end > h.start:
        return True
    if u.end <= h.start:
        return not original[u.end:h.start].strip()
    return not original[h.end:u.start].strip()
