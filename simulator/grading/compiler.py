"""Validation helpers for phrasebook YAML: every error says file:line in one sentence."""

from __future__ import annotations

import re

from ..errors import PhrasebookError
from . import yamlnodes
from .matcher import Matcher, check_regex, pattern_regex


class Compiler:
    """Validation helpers that know the file, so every error says file:line."""

    def __init__(self, where: str):
        self.where = where
        self.label = ""          # "rule x.y: " once the rule's id is known

    def error(self, line, msg) -> PhrasebookError:
        return PhrasebookError(f"{self.where}:{line}: {self.label}{msg}")

    def fail(self, m, key, msg):
        line = m.line_of(key) if isinstance(m, yamlnodes.YMap) else getattr(m, "line", 0)
        raise self.error(line, msg)

    def need_one(self, m, keys):
        if not any(k in m for k in keys):
            self.fail(m, None, f"check needs one of: {', '.join(keys)}")

    def strings(self, m, key, required=False) -> list[str]:
        v = m.get(key)
        if v is None:
            if required:
                self.fail(m, key, f"missing {key!r}")
            return []
        if isinstance(v, str):
            v = yamlnodes.YSeq([v])
            v.line, v.item_lines = m.line_of(key), [m.line_of(key)]
        if not isinstance(v, list) or (required and not v):
            self.fail(m, key, f"{key!r} must be a {'non-empty ' if required else ''}list of strings")
        for k, s in enumerate(v):
            if not isinstance(s, (str, int, float)) or isinstance(s, bool) or str(s) == "":
                raise self.error(_line(v, k, m, key), f"{key!r} item must be a non-empty string")
        return [str(s) for s in v]

    def regex_list(self, m, key, required=False) -> list[str]:
        vals = self.strings(m, key, required)
        seq = m.get(key)
        for k, p in enumerate(vals):
            if re.search(r"(?<!\\)\\[1-9]", p):
                raise self.error(_line(seq, k, m, key), f"regex {p!r} in {key!r}: numbered backreferences "
                                 "(\\1) cannot work, alternatives are matched as one regex; spell the cases out")
            try:
                check_regex(pattern_regex(p))
            except re.error as e:
                raise self.error(_line(seq, k, m, key), f"bad regex {p!r} in {key!r}: {e}") from None
        return vals

    def groups(self, m, key) -> list[list[str]]:
        v = m.get(key)
        if not isinstance(v, list) or not v:
            self.fail(m, key, f"{key!r} must be a list of groups (lists of alternatives)")
        out = []
        for k, g in enumerate(v):
            if not isinstance(g, list):
                raise self.error(_line(v, k, m, key), f"each group in {key!r} must be a list")
            out.append(self.regex_list(_wrap(g, _line(v, k, m, key), key), key, required=True))
        return out

    def integer(self, m, key, default, minimum=None):
        v = m.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or (minimum is not None and v < minimum):
            self.fail(m, key, f"{key!r} must be a whole number" + (f" >= {minimum}" if minimum is not None else ""))
        return v

    def number(self, m, key, default, lo, hi, required=False):
        v = m.get(key, default)
        if v is None:
            if required:
                self.fail(m, key, f"missing {key!r}")
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            self.fail(m, key, f"{key!r} must be a number from {lo} to {hi}")
        return float(v)

    def boolean(self, m, key, default=False) -> bool:
        v = m.get(key, default)
        if not isinstance(v, bool):
            self.fail(m, key, f"{key!r} must be true or false")
        return v

    def matcher(self, m, patterns=None, alt_keys=True) -> Matcher:
        """A Matcher from the check's alternatives (phrases/patterns/similar) and filter keys."""
        pats = list(patterns or [])
        phrases, similar = [], []
        if alt_keys:
            pats += self.regex_list(m, "patterns")
            phrases = self.strings(m, "phrases")
            similar = self.strings(m, "similar")
            for k, s in enumerate(similar):
                if len(s) < 4:
                    raise self.error(_line(m.get("similar"), k, m, "similar"),
                                     f"similar phrase {s!r} is shorter than 4 characters")
        unless = self.regex_list(m, "unless")
        in_clause = self.regex_list(m, "unless_in_clause")
        threshold = self.number(m, "threshold", 0.85, 0.5, 100)
        if threshold > 1:
            threshold /= 100  # 85 means 0.85
        return Matcher(patterns=pats, phrases=phrases, similar=similar,
                       threshold=threshold,
                       ignore_punct=self.boolean(m, "ignore_punct"),
                       unless=Matcher(patterns=unless) if unless else None,
                       unless_in_clause=Matcher(patterns=in_clause) if in_clause else None,
                       negated_by=self.strings(m, "negated_by"),
                       negation_window=self.integer(m, "negation_window", 2, minimum=1))


def _wrap(seq, line, key):
    m = yamlnodes.YMap({key: seq})
    m.line, m.key_lines = line, {key: line}
    return m


def _line(seq, k, m, key):
    if isinstance(seq, yamlnodes.YSeq):
        return seq.line_of(k)
    return m.line_of(key) if isinstance(m, yamlnodes.YMap) else 0
