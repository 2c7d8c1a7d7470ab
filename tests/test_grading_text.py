"""Normalized text and matchers: folding, spans back to the original text, pattern folding."""

import re

from hypothesis import given, strategies as st

from simulator.grading.matcher import Matcher
from simulator.grading.text import Norm, fold, fold_pattern, is_punct

CHARS = st.sampled_from(list("您好，,星海宽带？?！!（）() \u3000\tＡａB１2…~～。、不是我们的问题吗"))


def test_fold_width_case_space():
    assert fold("您好，星海 宽带！ＯＫ（无声）") == "您好,星海宽带!ok(无声)"
    assert fold("…") == "..."


@given(st.text(CHARS, max_size=30))
def test_every_normalized_char_maps_back(text):
    n = Norm(text)
    assert n.full.text == fold(text)
    for a in range(len(n.full.text)):
        for b in range(a + 1, len(n.full.text) + 1):
            s, e = n.full.span(a, b)
            assert fold(text[s:e]) == n.full.text[a:b] or n.full.text[a:b] in fold(text[s:e])
    assert n.bare.text == "".join(ch for ch in n.full.text if not is_punct(ch))
    for a, ch in enumerate(n.bare.text):
        s, e = n.bare.span(a, a + 1)
        assert ch in fold(text[s:e])


@given(st.text(CHARS, max_size=30), st.sampled_from(["您好,星海", "不是我们的问题", "宽带?", "（）", "ａb"]))
def test_matcher_hits_quote_the_original(text, phrase):
    m = Matcher(phrases=[phrase], patterns=["星海.{0,2}宽带"], ignore_punct=True)
    n = Norm(text)
    for h in m.find(n):
        piece = text[h.start:h.end]
        assert piece and not piece[0].isspace() and not piece[-1].isspace()
        folded = fold(piece)
        assert fold(phrase) in folded or re.sub(r"\W", "", fold(phrase)) in re.sub(r"\W", "", folded) \
            or re.search("星海.{0,2}宽带", folded)


def test_fold_pattern_escapes_full_width_punctuation():
    assert fold_pattern("（无声）") == r"\(无声\)"
    assert fold_pattern("吗？") == r"吗\?"
    assert fold_pattern("您好，星海") == "您好,星海"
    assert fold_pattern(r"喂(\?|？)") == r"喂(\?|\?)"
    assert fold_pattern("[０-９]+号") == "[0-9]+号"
    assert fold_pattern("您好 星海") == "您好星海"
    assert re.search(fold_pattern("吗？"), fold("好吗?")) and not re.search(fold_pattern("吗？"), fold("好吧"))


def test_clauses_and_negation():
    n = Norm("不好意思，我不理解您的心情。")
    assert n.clause(0) == 0 and n.clause(6) == 1 and n.clause_start(8) == 5
    m = Matcher(patterns=["理解您"], negated_by=["不"])
    assert m.find(n) == []
    assert m.find(Norm("不好意思，我理解您的心情。"))          # the 不 is in another clause
    assert Matcher(patterns=["理解您"], negated_by=["不"], negation_window=1).find(Norm("我不太理解您"))


# ---- the literal prefilter: a text without any of a matcher's required strings is skipped ----------

def test_required_literals():
    from simulator.grading.matcher import required_literals as req

    assert req([fold_pattern("(你|您)到底(在|要|想|还)?")]) == {"到底"}
    assert req([fold_pattern("[0-9零一]+(元|块)")]) == {"元", "块"}
    assert req([fold_pattern("(?<!听)不(太|是很)?清楚")]) == {"清楚"}
    assert req([fold_pattern("^\\s*喂"), fold_pattern("TMD")]) == {"喂", "tmd"}   # lowercased like the text
    assert req([fold_pattern("(^|[，,])(滚|去死)")]) == {"滚", "去死"}
    assert req([fold_pattern("说(话)+")]) == {"话"}          # the rarer of two required characters
    # an alternative that needs no particular string turns the shortcut off
    assert req([fold_pattern("到底"), fold_pattern("[0-9]{2,5}$")]) is None
    assert req([fold_pattern("x?")]) is None
    assert req([fold_pattern("(a|)b?")]) is None


def _matchers(book):
    from simulator.grading.matcher import Matcher
    for rule in book.rules:
        found = [v for v in rule.compiled.values() if isinstance(v, Matcher)]
        found += [g for v in rule.compiled.values() if isinstance(v, list) for g in v if isinstance(g, Matcher)]
        found += [v for v in rule.when.values() if isinstance(v, Matcher)]   # when.company is plain regexes
        for m in found:
            yield rule.id, m
            for sub in (m.unless, m.unless_in_clause):
                if sub is not None:
                    yield rule.id, sub


def test_prefilter_never_skips_a_match_on_the_phrasebook_and_dev_set():
    """Every turn text of the dev set and every phrasebook example: where a rule's regex matches,
    its required-strings search matches too (so skipping on a miss loses nothing)."""
    import json
    from pathlib import Path
    from simulator.grading import load_phrasebook

    book = load_phrasebook()
    texts = set()
    data = Path(__file__).parent / "data" / "grading_dev.jsonl"
    for line in data.read_text(encoding="utf-8").splitlines():
        texts.update(t["text"] for t in json.loads(line)["transcript"]["turns"])
    for rule in book.rules:
        for ex in [*rule.examples.get("pass", []), *rule.examples.get("fail", [])]:
            texts.update([ex] if isinstance(ex, str) else [t["text"] for t in ex.get("turns", [])])
        texts.update(t["text"] for t in rule.example_context)
    normed = [Norm(t).full.text for t in texts]
    checked = 0
    for rid, m in _matchers(book):
        for company in (None, "星海宽带", "顺达快递"):
            rx, _, lits = m._regexes(company)
            if rx is None or lits is None:
                continue
            for t in normed:
                if rx.search(t):
                    checked += 1
                    assert lits.search(t), (rid, m.sources, t)
    assert checked > 1000
