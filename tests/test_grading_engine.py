"""Scope, excerpts, live grading == whole-call grading, scoring and overrides, the text report."""

import copy
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from simulator import transcript as tr
from simulator.errors import TranscriptError
from simulator.grading import LiveGrader, grade, load_phrasebook, rescore
from simulator.grading.report import format_text

DEMO = Path(__file__).parent / "data" / "demo_call.json"
BASE = {"severity": "minor", "message": "不规范", "suggestion": "标准用语",
        "source": {"seed": "000_38188eab8a3aad00.txt", "clause": "原文"}}
RULES = [
    {"id": "opening.greeting", "dimension": "流程", "severity": "major", "tags": ["opening"],
     "when": {"turn": "first"}, "check": {"op": "required", "all": [["您好"], ["{company}"]]}},
    {"id": "forbidden.rule", "dimension": "礼貌", "severity": "major", "tags": ["rude"],
     "check": {"op": "forbidden", "patterns": ["(这|那)是(公司的?)?规定"]}},
    {"id": "forbidden.insult", "dimension": "礼貌", "severity": "critical", "tags": ["rude"],
     "check": {"op": "forbidden", "phrases": ["神经病"]}},
    {"id": "silent.procedure", "dimension": "流程", "channels": ["phone"], "scenarios": ["silent"],
     "when": {"after_caller": ["（无声）"]}, "check": {"op": "required", "any": ["听不到您的声音", "电话已接通"]}},
    {"id": "hold.thanks-after", "dimension": "耐心", "when": {"after_agent": ["（保持）"]},
     "check": {"op": "required", "any": ["感谢您的耐心等待", "让您久等了"]}},
    {"id": "angry.soothe", "dimension": "耐心", "tags": ["soothing"], "scenarios": ["angry"],
     "when": {"call_has": ["投诉"], "unless_after_caller": ["谢谢"]},
     "check": {"op": "forbidden", "phrases": ["随便你"]}},
    {"id": "surname.use", "dimension": "礼貌",
     "check": {"op": "count", "patterns": ["[王李张](先生|女士)"], "min": 2}},
    {"id": "closing.ask-more", "dimension": "流程", "when": {"unless_call_has": ["打错"]},
     "check": {"op": "sequence", "first": ["还有(其他|其它)问题吗"], "then": ["再见"]}},
    {"id": "closing.thanks", "dimension": "流程", "when": {"turn": "last"},
     "check": {"op": "required", "any": ["感谢您的来电"]}},
    {"id": "vague.words", "dimension": "沟通", "check": {"op": "excessive", "phrases": ["可能", "好像"], "max": 1}},
    {"id": "response.slow", "dimension": "耐心", "check": {"op": "response_time", "seconds": 3}},
    {"id": "terse.answers", "dimension": "沟通", "check": {"op": "terse", "max_chars": 5, "min_count": 2}},
    {"id": "surname.ask", "dimension": "礼貌", "check": {"op": "required", "any": ["贵姓"]}},
]


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    d = tmp_path_factory.mktemp("book")
    data = [{**BASE, **r} for r in RULES]
    (d / "rules.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_phrasebook(d)


def call(*pairs, **kw):
    return {"company": "星海宽带", **kw, "turns": [{"role": r, "text": t} for r, t in pairs]}


def rules_of(report, verdicts=("violation", "missing", "ok")):
    return [(f["turn"], f["rule"], f["verdict"]) for f in report["findings"] if f["verdict"] in verdicts]


GOOD = call(("caller", "（电话接通）喂，你好。"), ("agent", "您好，星海宽带，请问有什么可以帮您？"),
            ("caller", "我想查话费。"), ("agent", "好的，请问您贵姓？"), ("caller", "姓王。"),
            ("agent", "王先生，请您稍等。（保持）"), ("agent", "王先生，感谢您的耐心等待，本月话费89元。请问还有其他问题吗？"),
            ("caller", "没有了。"), ("agent", "感谢您的来电，再见！"))


def test_report_shape_and_a_clean_call(book):
    rep = grade(GOOD, book)
    assert set(rep) == {"score", "passed", "auto_fail", "phrasebook", "dimensions", "findings"}
    assert rep["phrasebook"] == {"name": "default", "version": book.version}
    assert (rep["score"], rep["passed"], rep["auto_fail"]) == (100, True, False)
    assert rules_of(rep) == [(1, "opening.greeting", "ok"), (3, "surname.ask", "ok"),
                             (6, "hold.thanks-after", "ok"), (6, "surname.use", "ok"),
                             (6, "closing.ask-more", "ok"),
                             (8, "closing.thanks", "ok")]
    f = rep["findings"][0]
    assert set(f) == {"turn", "rule", "verdict", "severity", "dimension", "evidence", "span", "message",
                      "suggestion", "source", "tags"}
    assert f["tags"] == ["opening"] and f["source"] == {"seed": "000_38188eab8a3aad00.txt", "clause": "原文"}


def test_scores_and_auto_fail(book):
    bad = call(("caller", "喂？"), ("agent", "喂，说吧。"), ("caller", "我要投诉！"),
               ("agent", "这是公司规定，随便你。"), ("caller", "你说什么？"), ("agent", "神经病。"))
    rep = grade(bad, book)
    got = rules_of(rep)
    assert (1, "opening.greeting", "missing") in got and (3, "forbidden.rule", "violation") in got
    assert (3, "angry.soothe", "violation") in got and (5, "forbidden.insult", "violation") in got
    assert rep["auto_fail"] is True and rep["passed"] is False
    assert rep["dimensions"]["礼貌"] == {"score": 0, "max": 30}
    assert rep["dimensions"]["流程"]["score"] == 30 - 8 - 3   # greeting (major), closing.thanks (minor)
    assert rep["score"] == sum(d["score"] for d in rep["dimensions"].values())


def test_scope_after_caller_channel_and_scenarios(book):
    silent = call(("caller", "（无声）"), ("agent", "您好，星海宽带。"), ("caller", "(无声)"), ("agent", "喂喂？"))
    assert rules_of(grade(silent, book), ("missing", "ok"))[:3] == [
        (1, "opening.greeting", "ok"), (1, "silent.procedure", "missing"), (3, "silent.procedure", "missing")]
    assert not [f for f in grade({**silent, "channel": "chat"}, book)["findings"] if f["rule"] == "silent.procedure"]
    only_angry = grade({**silent, "scenarios": ["angry"]}, book)
    assert not [f for f in only_angry["findings"] if f["rule"] == "silent.procedure"]
    assert [f for f in grade({**silent, "scenarios": ["silent"]}, book)["findings"] if f["rule"] == "silent.procedure"]


def test_call_has_looks_back_at_callers_only(book):
    before = call(("caller", "我要投诉"), ("agent", "随便你。"))
    after = call(("caller", "喂"), ("agent", "随便你。"), ("caller", "我要投诉"), ("agent", "好的。"))
    agent_says = call(("caller", "喂"), ("agent", "您可以投诉，随便你。"))
    thanked = call(("caller", "我要投诉"), ("agent", "好的。"), ("caller", "谢谢"), ("agent", "随便你。"))
    assert [r for r in rules_of(grade(before, book)) if r[1] == "angry.soothe"] == [(1, "angry.soothe", "violation")]
    for c in (after, agent_says, thanked):
        assert not [r for r in rules_of(grade(c, book)) if r[1] == "angry.soothe"]


def test_unless_call_has_sees_any_turn(book):
    wrong = call(("caller", "是张三家吗？"), ("agent", "您好，您打错了，请查证后再拨，再见。"))
    assert not [r for r in rules_of(grade(wrong, book)) if r[1] == "closing.ask-more"]
    plain = call(("caller", "是张三家吗？"), ("agent", "不是，再见。"))
    assert [r for r in rules_of(grade(plain, book)) if r[1] == "closing.ask-more"] == [(1, "closing.ask-more", "missing")]


def test_after_agent_is_the_next_agent_turn(book):
    c = call(("caller", "查一下"), ("agent", "请稍等。（保持）"), ("caller", "好"), ("agent", "查到了。"), ("agent", "还有吗？"))
    assert [r for r in rules_of(grade(c, book)) if r[1] == "hold.thanks-after"] == [(3, "hold.thanks-after", "missing")]


def test_unless_agent_skips_matching_replies(tmp_path):
    rule = {**BASE, "id": "silent.greet", "dimension": "流程", "check": {"op": "required", "any": ["您好"]},
            "when": {"after_caller": ["（无声）"], "unless_agent": ["^（挂机）$"]}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([rule], allow_unicode=True), encoding="utf-8")
    b = load_phrasebook(tmp_path)
    c = call(("caller", "（无声）"), ("agent", "您好？"), ("caller", "（无声）"), ("agent", "（挂机）"),
             ("caller", "（无声）"), ("agent", "喂？（挂机）"))
    assert rules_of(grade(c, b)) == [(1, "silent.greet", "ok"), (5, "silent.greet", "missing")]


def test_first_and_last_skip_unless_agent_turns(tmp_path):
    rules = [{**BASE, "id": "closing.thanks", "dimension": "流程", "check": {"op": "required", "any": ["感谢"]},
              "when": {"turn": "last", "unless_agent": ["^（挂机）$"]}},
             {**BASE, "id": "opening.hello", "dimension": "流程", "check": {"op": "required", "any": ["您好"]},
              "when": {"turn": "first", "unless_agent": ["^（保持）$"]}}]
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    b = load_phrasebook(tmp_path)
    c = call(("caller", "喂"), ("agent", "（保持）"), ("agent", "您好。"), ("caller", "再见"),
             ("agent", "感谢来电，再见。"), ("agent", "（挂机）"))
    assert rules_of(grade(c, b)) == [(2, "opening.hello", "ok"), (4, "closing.thanks", "ok")]
    c["turns"][4]["text"] = "再见。"
    assert rules_of(grade(c, b)) == [(2, "opening.hello", "ok"), (4, "closing.thanks", "missing")]
    live = LiveGrader(b)
    assert live.add_turn(c["turns"][0]) == live.add_turn(c["turns"][1]) == []
    assert [f["rule"] for f in live.add_turn(c["turns"][2])] == ["opening.hello"]


def test_excerpt_skips_whole_call_rules_only(book):
    part = call(("caller", "那你们怎么处理？"), ("agent", "这是规定。"), ("caller", "什么？"), ("agent", "好像，可能。"))
    whole = {r[1] for r in rules_of(grade(part, book))}
    exc = {r[1] for r in rules_of(grade({**part, "excerpt": True}, book))}
    assert {"opening.greeting", "surname.use", "closing.thanks", "surname.ask"} <= whole
    assert exc == {"forbidden.rule", "vague.words", "terse.answers"} == whole - {
        "opening.greeting", "surname.use", "closing.thanks", "surname.ask"}


def test_final_false_leaves_out_end_of_call_rules(book):
    live = LiveGrader(book, company="星海宽带")
    for t in GOOD["turns"][:4]:
        live.add_turn(t)
    partial = {f["rule"] for f in live.report(final=False)["findings"]}
    assert partial == {"opening.greeting"}
    assert {"surname.ask", "surname.use", "closing.thanks"} <= {f["rule"] for f in live.report(final=True)["findings"]}
    # asking for a final report does not change the call: more turns can follow
    assert {f["rule"] for f in live.report(final=False)["findings"]} == partial


def test_final_report_is_repeatable(tmp_path):
    rule = {**BASE, "id": "closing.ask", "dimension": "流程", "when": {"turn": "last"},
            "check": {"op": "sequence", "first": ["还有其他问题吗"], "then": ["再见"]}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([rule], allow_unicode=True), encoding="utf-8")
    live = LiveGrader(load_phrasebook(tmp_path))
    for t in GOOD["turns"]:
        live.add_turn(t)
    first = live.report(final=True)
    assert [(f["turn"], f["verdict"]) for f in first["findings"]] == [(6, "ok")]
    assert live.report(final=True) == first


def test_add_turn_returns_this_turns_findings_and_validates(book):
    live = LiveGrader(book, company="星海宽带")
    assert live.add_turn(tr.Turn("caller", "喂？", at=0.0)) == []
    got = live.add_turn({"role": "agent", "text": "这是规定。", "at": 5.0})
    assert {(f["turn"], f["rule"], f["verdict"]) for f in got} == {
        (1, "opening.greeting", "missing"), (1, "forbidden.rule", "violation"), (1, "response.slow", "violation")}
    with pytest.raises(TranscriptError, match="^turn 2 has role 'boss'"):
        live.add_turn({"role": "boss", "text": "hi"})


def live_report(book, t):
    """Grade a transcript turn by turn, asking for interim reports on the way."""
    live = LiveGrader(book, channel=t.channel, company=t.company, scenarios=t.scenarios, excerpt=t.excerpt)
    returned = []
    for turn in t.turns:
        returned += live.add_turn(turn)
        live.report(final=False)
    assert sorted(map(json.dumps, returned)) == sorted(map(json.dumps, live.report(final=False)["findings"]))
    return live.report(final=True)


def test_live_equals_grade_on_the_demo_and_examples(book):
    builtin = load_phrasebook()
    demo = tr.loads(DEMO.read_bytes())
    assert live_report(builtin, demo) == grade(demo, builtin)
    assert live_report(book, demo) == grade(demo, book)
    for c in (GOOD, call(("caller", "我要投诉"), ("agent", "这是规定"), ("agent", "随便你")),
              {**GOOD, "excerpt": True}, {**GOOD, "scenarios": ["angry"]}):
        t = tr.from_dict(c)
        assert live_report(book, t) == grade(t, book)
        assert live_report(builtin, t) == grade(t, builtin)


LINES = ["（电话接通）喂，你好。", "您好，星海宽带，请问有什么可以帮您？", "我要投诉！", "这是公司规定。", "随便你。",
         "（无声）", "王先生，请稍等。（保持）", "感谢您的耐心等待。", "可能是线路问题，好像吧。", "请问您贵姓？",
         "还有其他问题吗？", "感谢您的来电，再见！", "好。", "嗯？", "神经病。", "李女士，您打错了。", "谢谢"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["caller", "agent"]), st.sampled_from(LINES),
                          st.one_of(st.none(), st.floats(0, 8))), max_size=14),
       st.booleans(), st.sampled_from([(), ("angry",), ("silent", "angry")]), st.sampled_from([None, "星海宽带"]))
def test_live_equals_grade_property(book, turns, excerpt, scenarios, company):
    at, out = 0.0, []
    for role, text, gap in turns:
        if gap is not None:
            at += gap
        out.append({"role": role, "text": text, **({"at": at} if gap is not None else {})})
    t = tr.from_dict({"turns": out, "excerpt": excerpt, "scenarios": list(scenarios), "company": company})
    rep = grade(t, book)
    assert live_report(book, t) == rep
    for f in rep["findings"]:
        if f["span"] is not None:
            assert out[f["turn"]]["text"][f["span"][0]:f["span"][1]] == f["evidence"]
        assert out[f["turn"]]["role"] == "agent"
    assert [f["turn"] for f in rep["findings"]] == sorted(f["turn"] for f in rep["findings"])


def test_rescore_with_overrides(book):
    bad = grade(call(("caller", "喂？"), ("agent", "您好，星海宽带。这是规定。"), ("caller", "哦"),
                     ("agent", "神经病。")), book)
    assert bad["auto_fail"] and not bad["passed"]
    same = rescore(bad["findings"], book)
    assert same == {k: bad[k] for k in ("score", "passed", "auto_fail", "dimensions")}
    findings = copy.deepcopy(bad["findings"])
    for f in findings:
        if f["rule"] in ("forbidden.insult", "forbidden.rule"):
            f["override"] = {"verdict": "dismissed", "by": "supervisor", "reason": "误判"}
    fixed = rescore(findings, book)
    assert fixed["auto_fail"] is False and fixed["dimensions"]["礼貌"]["score"] == 30 - 3 - 3
    ok = next(f for f in findings if f["verdict"] == "ok")
    ok["override"] = {"verdict": "violation", "severity": "major"}
    worse = rescore(findings, book)
    assert worse["dimensions"][ok["dimension"]]["score"] == fixed["dimensions"][ok["dimension"]]["score"] - 8


def test_deductions_floor_at_zero_and_pass_mark(tmp_path):
    (tmp_path / "_meta.yaml").write_text("pass_mark: 95\ndimensions: {礼貌: 10, 流程: 90}\n"
                                         "deductions: {minor: 4, major: 6, critical: 50}\n", encoding="utf-8")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([{**BASE, "id": "x.word", "dimension": "礼貌", "severity": "major",
                                                      "check": {"op": "forbidden", "phrases": ["喂"]}}],
                                                    allow_unicode=True), encoding="utf-8")
    b = load_phrasebook(tmp_path)
    rep = grade(call(("caller", "hi"), ("agent", "喂"), ("agent", "喂"), ("agent", "喂")), b)
    assert rep["dimensions"]["礼貌"] == {"score": 0, "max": 10} and rep["score"] == 90 and not rep["passed"]
    assert grade(call(("caller", "hi"), ("agent", "您好")), b)["passed"]


def test_format_text(book):
    text = format_text(grade(tr.loads(DEMO.read_bytes()), book))
    assert text.startswith("得分 Score: ")
    assert "「这是公司的规定」" in text and "标准用语" in text and "000_38188eab8a3aad00.txt 「原文」" in text
    assert "第 10 句" in text and "礼貌" in text


@pytest.fixture(scope="module")
def builtin():
    return load_phrasebook()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["caller", "agent"]), st.sampled_from(LINES)), max_size=12),
       st.booleans(), st.sampled_from(["phone", "chat"]))
def test_live_equals_grade_on_the_builtin_phrasebook(builtin, turns, excerpt, channel):
    t = tr.from_dict({"turns": [{"role": r, "text": x} for r, x in turns], "excerpt": excerpt,
                      "channel": channel, "company": "星海宽带"})
    rep = grade(t, builtin)
    assert live_report(builtin, t) == rep
    for f in rep["findings"]:
        if f["span"] is not None:
            assert t.turns[f["turn"]].text[f["span"][0]:f["span"][1]] == f["evidence"]


def test_format_text_marks_auto_fail(book):
    rep = grade(call(("caller", "喂？"), ("agent", "神经病。")), book)
    text = format_text(rep)
    assert "未通过 FAIL（一票否决 auto-fail）" in text.splitlines()[0]
    assert "✗ 违规 violation · critical · 礼貌 · forbidden.insult [第 1 句 turn 1]" in text


def test_when_company_limits_a_rule_to_one_kind_of_business(tmp_path):
    """Telecom retention (seed 002) asks why a caller cancels broadband, not why a bank account closes."""
    rule = {**BASE, "id": "retention.ask", "dimension": "沟通", "check": {"op": "required", "any": ["原因"]},
            "when": {"after_caller": ["销户|停掉"], "company": ["宽带|电信"]}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([rule], allow_unicode=True), encoding="utf-8")
    b = load_phrasebook(tmp_path)
    turns = (("caller", "我要销户。"), ("agent", "好的，请您本人带身份证到网点办理。"))
    assert rules_of(grade(call(*turns), b)) == [(1, "retention.ask", "missing")]
    assert rules_of(grade(call(*turns, company="恒通银行"), b)) == []
    assert rules_of(grade({**call(*turns), "company": None}, b)) == [(1, "retention.ask", "missing")]
    live = LiveGrader(b, company="恒通银行")
    assert [f for t in turns for f in live.add_turn({"role": t[0], "text": t[1]})] == []
    bad = {**rule, "when": {"company": ["(宽带"]}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([bad], allow_unicode=True), encoding="utf-8")
    with pytest.raises(Exception, match="company"):
        load_phrasebook(tmp_path)


def test_opens_with_lets_a_turn_first_rule_judge_an_excerpt_that_starts_the_call(tmp_path):
    rule = {**BASE, "id": "response.pickup", "dimension": "耐心",
            "check": {"op": "response_time", "seconds": 3, "since": "start"},
            "when": {"turn": "first", "opens_with": ["^（电话接通）"]}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([rule], allow_unicode=True), encoding="utf-8")
    b = load_phrasebook(tmp_path)
    turns = [{"role": "caller", "text": "（电话接通）", "at": 0.0}, {"role": "caller", "text": "喂？有人吗？", "at": 7.0},
             {"role": "agent", "text": "您好。", "at": 9.0}, {"role": "caller", "text": "查账单。", "at": 10.0},
             {"role": "agent", "text": "好的。", "at": 30.0}]
    for excerpt in (False, True):   # timed from the line connecting, on the first agent turn only
        assert rules_of(grade({"excerpt": excerpt, "turns": turns}, b)) == [(2, "response.pickup", "violation")]
    mid = [{"role": "caller", "text": "我再问一下。", "at": 0.0}, {"role": "agent", "text": "好的。", "at": 9.0}]
    assert rules_of(grade({"excerpt": True, "turns": mid}, b)) == []        # a mid-call excerpt: no opening
    assert rules_of(grade({"excerpt": False, "turns": mid}, b)) == [(1, "response.pickup", "violation")]
    bad = {**rule, "when": {"opens_with": ["^（电话接通）"]}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump([bad], allow_unicode=True), encoding="utf-8")
    with pytest.raises(Exception, match="opens_with needs when.turn: first"):
        load_phrasebook(tmp_path)
