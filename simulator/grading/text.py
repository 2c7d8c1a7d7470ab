"""Normalized views of a turn (for matching) that map every match back to the original text.

Rules match on folded text (full-width -> half-width, lowercase, no whitespace) so that 您好,星海 and
您好，星海 are the same; findings must quote the trainee's own words, so spans go back to the original.
"""

from __future__ import annotations

import re
import unicodedata

_FOLD: dict[str, str] = {}
CLAUSE_ENDS = set(",.!?;:、。")  # after folding: ，。！？；：、… and their half-width forms


def fold_char(c: str) -> str:
    """One original character as it appears in the normalized text ('' for whitespace)."""
    r = _FOLD.get(c)
    if r is None:
        r = "" if c.isspace() else "".join(ch for ch in unicodedata.normalize("NFKC", c).lower()
                                           if not ch.isspace())
        _FOLD[c] = r
    return r


def fold(text: str) -> str:
    return "".join(fold_char(c) for c in text)


def is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "P" or ch in "~"


def strip_punct(text: str) -> str:
    return "".join(ch for ch in text if not is_punct(ch))


class View:
    """A normalized string plus, for each of its characters, the original [start, end)."""

    __slots__ = ("text", "starts", "ends")

    def __init__(self, text: str, starts: list[int], ends: list[int]):
        self.text, self.starts, self.ends = text, starts, ends

    def span(self, a: int, b: int) -> tuple[int, int]:
        return self.starts[a], self.ends[b - 1]


class Norm:
    """The normalized forms of one turn's text, built once and shared by all rules."""

    __slots__ = ("original", "full", "_bare", "_clauses")

    def __init__(self, original: str):
        self.original = original
        chars, starts, ends = [], [], []
        for i, c in enumerate(original):
            for ch in fold_char(c):
                chars.append(ch)
                starts.append(i)
                ends.append(i + 1)
        self.full = View("".join(chars), starts, ends)
        self._bare = None
        self._clauses = None

    @property
    def bare(self) -> View:
        """The normalized text without punctuation (for fuzzy and punctuation-blind matching)."""
        if self._bare is None:
            f = self.full
            keep = [k for k, ch in enumerate(f.text) if not is_punct(ch)]
            self._bare = View("".join(f.text[k] for k in keep), [f.starts[k] for k in keep],
                              [f.ends[k] for k in keep])
        return self._bare

    def clause(self, pos: int) -> int:
        """Clause number of original character ``pos`` (clauses end at ，。！？；：、…)."""
        if self._clauses is None:
            ids, n = [], 0
            for c in self.original:
                ids.append(n)
                if c == "\n" or any(ch in CLAUSE_ENDS for ch in fold_char(c)):
                    n += 1
            ids.append(n)
            self._clauses = ids
        return self._clauses[min(max(pos, 0), len(self.original))]

    def clause_start(self, pos: int) -> int:
        cid = self.clause(pos)
        k = pos
        while k > 0 and self.clause(k - 1) == cid:
            k -= 1
        return k


def fold_pattern(pattern: str) -> str:
    """Fold a regex like the text: full-width characters become their (escaped) half-width forms.

    So （无声） and 吗？ in a pattern are literal, while half-width ( ) ? keep their regex meaning.
    """
    out, k, n = [], 0, len(pattern)
    while k < n:
        c = pattern[k]
        if c == "\\" and k + 1 < n:
            nxt = pattern[k + 1]
            if nxt.isascii():
                out.append(c + nxt)
            else:
                out.append("".join(re.escape(x) for x in fold(nxt)))
            k += 2
            continue
        if c.isspace():
            k += 1
            continue
        f = unicodedata.normalize("NFKC", c)
        out.append(c if f == c else "".join(re.escape(x) for x in f if not x.isspace()))
        k += 1
    return "".join(out)


# With no company on the transcript, {company} matches a company-looking name.
GENERIC_COMPANY = (r"[\u4e00-\u9fffa-z0-9]{0,12}?(?:公司|集团|银行|宽带|电信|移动|联通|物业|客服|热线|中心"
                   r"|商城|保险|航空|酒店|医院)")


def company_regex(company: str | None) -> str:
    return GENERIC_COMPANY if not company else re.escape(fold(company))


def company_kind_regex(company: str | None) -> str:
    """``{company_kind}``: the kind of business the company's name ends with (顺达快递 -> 快递,
    安居物业有限公司 -> 物业); with no company it matches nothing."""
    name = re.sub(r"(有限责任公司|有限公司|股份公司|公司)$", "", fold(company or ""))
    cjk = re.findall(r"[\u4e00-\u9fff]", name)
    return re.escape("".join(cjk[-2:])) if len(cjk) >= 2 else r"(?!)"
