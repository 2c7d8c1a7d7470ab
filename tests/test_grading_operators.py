"""Each operator on small inline phrasebooks: one passing and one failing reply at least."""

import pytest
import yaml

from simulator.errors import PhrasebookError
from simulator.grading import LiveGrader, grade, load_phrasebook, run_example

BASE = {"dimension": "礼貌", "severity": "major", "message": "不规范", "suggestion": "您好，{company}",
        "source": {"seed": "000_38188eab8a3aad00.txt", "clause": "……"}}


def make_book(tmp_path, *rules):
    data = [{**BASE, "id": f"t.r{k}", **r} for k, r in enumerate(rules)]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_phrasebook(tmp_path)


def agent(book, *replies, caller="（电话接通）喂，你好。", rule="t.r0", **kw):
    """Findings of ``rule`` for a call: the caller line, then the agent replies (caller '嗯。' between)."""
    turns = [{"role": "caller", "text": caller}]
    for k, r in enumerate(replies):
        if k:
            turns.append({"role": "caller", "text": "嗯。"})
        turns.append({"role": "agent", "text": r})
    rep = grade({"turns": turns, "company": kw.pop("company", "星海宽带"), **kw}, book)
    return [f for f in rep["findings"] if f["rule"] == rule]


def verdicts(findings):
    return [f["verdict"] for f in findings]


def check_spans(findings, texts):
    for f in findings:
        if f["span"] is not None:
            assert texts[f["turn"]][f["span"][0]:f["span"][1]] == f["evidence"]


# ---- forbidden --------------------------------------------------------------------------------

def test_forbidden_phrase_pattern_and_span(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "forbidden", "phrases": ["这是公司规定"], "patterns": ["没(有)?办法"]}})
    assert agent(book, "我帮您登记反馈，请您放心。") == []
    found = agent(book, "不好意思， 这是 公司规定！")
    assert verdicts(found) == ["violation"]
    assert found[0]["evidence"] == "这是 公司规定" and found[0]["span"] == [6, 13]
    assert agent(book, "我也没有办法。")[0]["evidence"] == "没有办法"


def test_forbidden_folds_width_and_case(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "forbidden", "phrases": ["OK，知道了"]}})
    found = agent(book, "ｏｋ,知道了")
    assert verdicts(found) == ["violation"] and found[0]["evidence"] == "ｏｋ,知道了"


def test_forbidden_unless_is_negation(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "forbidden", "patterns": ["不是.{0,2}的问题"],
                                          "unless": ["您的问题"]}})
    assert verdicts(agent(book, "这不是我们的问题。")) == ["violation"]
    assert agent(book, "这不是您的问题，是线路故障。") == []
    assert agent(book, "不是您的问题") == []


def test_forbidden_unless_only_touching_same_clause(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "forbidden", "phrases": ["打错了"], "unless": ["不是"]}})
    assert agent(book, "您不是打错了，号码是对的。") == []          # touching: suppressed
    assert verdicts(agent(book, "不是的，您打错了。")) == ["violation"]  # other clause: counts
    book = make_book(tmp_path, {"check": {"op": "forbidden", "phrases": ["打错了"], "unless_in_clause": ["不是"]}})
    assert agent(book, "不是说您打错了") == []
    assert verdicts(agent(book, "不是的，您打错了。")) == ["violation"]


def test_forbidden_similar_is_fuzzy(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "forbidden", "similar": ["这是公司的规定"], "threshold": 0.85}})
    found = agent(book, "不行，这是公司规定的。")
    assert verdicts(found) == ["violation"]
    check_spans(found, {1: "不行，这是公司规定的。"})
    assert agent(book, "我帮您查一下公司的套餐。") == []
    assert agent(book, "规定。") == []            # a short reply inside the phrase is not the phrase


# ---- required ---------------------------------------------------------------------------------

def test_required_any_with_company(tmp_path):
    book = make_book(tmp_path, {"when": {"turn": "first"},
                                "check": {"op": "required", "any": ["您好，{company}"]}})
    ok = agent(book, "您好，星海宽带，请问有什么可以帮您？")
    assert verdicts(ok) == ["ok"] and ok[0]["evidence"] == "您好，星海宽带"
    assert verdicts(agent(book, "您好，请问有什么可以帮您？")) == ["missing"]
    assert verdicts(agent(book, "您好，星海宽带。", company="云帆物业")) == ["missing"]
    # no company on the transcript: any company-looking name counts
    assert verdicts(agent(book, "您好，云帆物业。", company=None)) == ["ok"]
    missing = agent(book, "你好。")[0]
    assert missing["evidence"] == "你好。" and missing["span"] == [0, 3]
    assert missing["suggestion"] == "您好，星海宽带"


def test_company_kind_placeholder(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "forbidden", "patterns": ["是{company_kind}吗"]}})
    assert verdicts(agent(book, "您好，是快递吗？", company="顺达快递")) == ["violation"]
    assert agent(book, "您好，是快递吗？", company="星海宽带") == []
    assert verdicts(agent(book, "是物业吗？", company="安居物业有限公司")) == ["violation"]
    assert agent(book, "是物业吗？", company=None) == []        # no company: matches nothing


def test_required_all_groups(tmp_path):
    book = make_book(tmp_path, {"when": {"turn": "last"},
                                "check": {"op": "required", "all": [["感谢", "谢谢"], ["再见", "拜拜"]]}})
    ok = agent(book, "好的，您好。", "好的，感谢您的来电，再见！")
    assert verdicts(ok) == ["ok"] and ok[0]["evidence"] == "感谢您的来电，再见" and ok[0]["turn"] == 3
    assert verdicts(agent(book, "再见。")) == ["missing"]


def test_required_at_least_and_negated_by(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "required", "any": ["理解", "抱歉", "别着急"], "at_least": 2,
                                          "negated_by": ["不", "没"]}, "when": {"after_caller": ["投诉"]}})
    assert verdicts(agent(book, "非常抱歉，我理解您的心情。", caller="我要投诉！")) == ["ok"]
    assert verdicts(agent(book, "非常抱歉。", caller="我要投诉！")) == ["missing"]
    assert verdicts(agent(book, "抱歉，我不理解您说的。", caller="我要投诉！")) == ["missing"]
    assert agent(book, "非常抱歉。", caller="我想查话费。") == []   # not after a complaint: nothing


def test_required_ignore_punct(tmp_path):
    book = make_book(tmp_path, {"when": {"turn": "first"}, "check": {"op": "required", "phrases": ["您好星海宽带"]}},
                     {"when": {"turn": "first"},
                      "check": {"op": "required", "phrases": ["您好星海宽带"], "ignore_punct": True}})
    assert verdicts(agent(book, "您好，星海宽带！")) == ["missing"]
    ok = agent(book, "您好，星海宽带！", rule="t.r1")
    assert verdicts(ok) == ["ok"] and ok[0]["evidence"] == "您好，星海宽带"


def test_required_within_a_later_turn(tmp_path):
    """within: 2 — the reply after a wrong-number cue may ask first and say it on the next turn."""
    book = make_book(tmp_path, {"when": {"after_caller": ["饭店吗"]},
                                "check": {"op": "required", "all": [["这里是"], ["查证"]], "within": 2}})
    cue = "是张记饭店吗？"
    # said at once: ok on that turn
    assert [(f["turn"], f["verdict"]) for f in agent(book, "这里是星海宽带，请您查证后再拨。", caller=cue)] == [(1, "ok")]
    # asked first, said on the next agent turn: ok there, nothing missing
    late = agent(book, "请问您找哪里？", "您好，这里是星海宽带，请您查证后再拨。", caller=cue)
    assert [(f["turn"], f["verdict"]) for f in late] == [(3, "ok")]
    # never said: missing on the last chance (the window's last turn, or the call's last agent turn)
    assert [(f["turn"], f["verdict"]) for f in agent(book, "请问您找哪里？", caller=cue)] == [(1, "missing")]
    assert [(f["turn"], f["verdict"]) for f in agent(book, "请问您找哪里？", "不是。", "再见。", caller=cue)] \
        == [(3, "missing")]
    # the caller asks again: the new turn takes the requirement over, one lapse is one finding
    turns = [{"role": "caller", "text": cue}, {"role": "agent", "text": "不是。"},
             {"role": "caller", "text": "不是张记饭店吗？"}, {"role": "agent", "text": "不是。"}]
    rep = grade({"turns": turns, "company": "星海宽带"}, book)
    assert [(f["turn"], f["verdict"]) for f in rep["findings"]] == [(3, "missing")]
    # live: the missing comes with the turn that closes the window
    live = LiveGrader(book, company="星海宽带")
    live.add_turn({"role": "caller", "text": cue})
    assert live.add_turn({"role": "agent", "text": "请问您找哪里？"}) == []
    assert live.report(final=False)["findings"] == []
    assert [(f["turn"], f["verdict"]) for f in live.report(final=True)["findings"]] == [(1, "missing")]
    live.add_turn({"role": "caller", "text": "嗯。"})
    got = live.add_turn({"role": "agent", "text": "不是。"})
    assert [(f["turn"], f["verdict"]) for f in got] == [(3, "missing")]
    assert [(f["turn"], f["verdict"]) for f in live.report(final=True)["findings"]] == [(3, "missing")]
    # a call cut short never reached the turn that could still say it
    live2 = LiveGrader(book, company="星海宽带")
    live2.add_turn({"role": "caller", "text": cue})
    live2.add_turn({"role": "agent", "text": "请问您找哪里？"})
    assert live2.report(final=True, cut_short=True)["findings"] == []


def test_within_needs_a_trigger(tmp_path):
    with pytest.raises(PhrasebookError, match="within needs a trigger"):
        make_book(tmp_path, {"check": {"op": "required", "any": ["贵姓"], "within": 2}})


def test_defer_pickup_skips_the_greeting_and_carries_the_callers_first_line(tmp_path):
    """The caller's first line comes before the agent's greeting: the greeting is not the answer to
    it; the agent's next turn is."""
    book = make_book(tmp_path, {"when": {"after_caller": ["破宽带"], "defer_pickup": ["^您好"]},
                                "check": {"op": "required", "any": ["抱歉"]}})
    angry = "你们这什么破宽带！"
    # whole call: the greeting is not judged, the next reply is (after a calm caller line too)
    found = agent(book, "您好，星海宽带，请问您贵姓？", "请提供一下您的账号。", caller=angry)
    assert [(f["turn"], f["verdict"]) for f in found] == [(3, "missing")]
    found = agent(book, "您好，星海宽带。", "非常抱歉，我马上帮您查。", caller=angry)
    assert [(f["turn"], f["verdict"]) for f in found] == [(3, "ok")]
    # a greeting that already says it: ok there, nothing carried
    found = agent(book, "您好，星海宽带，非常抱歉给您添麻烦了。", "请提供一下您的账号。", caller=angry)
    assert [(f["turn"], f["verdict"]) for f in found] == [(1, "ok")]
    # a first reply that is no greeting answers the caller's words
    assert [(f["turn"], f["verdict"]) for f in agent(book, "账号多少？", caller=angry)] == [(1, "missing")]
    # later angry lines are judged as usual
    turns = [{"role": "caller", "text": "（电话接通）"}, {"role": "agent", "text": "您好，星海宽带。"},
             {"role": "caller", "text": angry}, {"role": "agent", "text": "请提供账号。"}]
    rep = grade({"turns": turns, "company": "星海宽带"}, book)
    assert [(f["turn"], f["verdict"]) for f in rep["findings"]] == [(3, "missing")]
    # an excerpt has no pickup: its first agent turn answers the line before it
    assert [(f["turn"], f["verdict"]) for f in agent(book, "您好，请提供账号。", caller=angry, excerpt=True)] \
        == [(1, "missing")]
    with pytest.raises(PhrasebookError, match="defer_pickup needs"):
        make_book(tmp_path, {"when": {"turn": "first", "after_caller": ["x"], "defer_pickup": ["^您好"]},
                             "check": {"op": "required", "any": ["您好"]}})


# ---- count ------------------------------------------------------------------------------------

def test_count_min(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "count", "patterns": ["[\u4e00-\u9fff](先生|女士)"], "min": 2}})
    ok = agent(book, "好的王先生。", "我查一下。", "王先生，已经好了。")
    assert verdicts(ok) == ["ok"] and ok[0]["turn"] == 5 and ok[0]["evidence"] == "王先生"
    miss = agent(book, "好的王先生。", "我查一下。")
    assert verdicts(miss) == ["missing"] and miss[0]["turn"] == 3
    assert "1 次" in miss[0]["message"]
    # a count with min needs the whole call: not applied to an excerpt
    assert agent(book, "好的王先生。", excerpt=True) == []


def test_count_max_ratio(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "count", "patterns": ["(先生|女士)"], "max_ratio": 0.6}})
    every = agent(book, "王先生您好。", "王先生请稍等。", "王先生查好了。", "王先生还有问题吗？")
    assert verdicts(every) == ["violation"] and every[0]["turn"] == 7
    assert agent(book, "王先生您好。", "请稍等。", "查好了。", "王先生还有问题吗？") == []
    assert agent(book, "王先生您好。", "王先生好。") == []   # too few turns to judge a ratio


def test_count_max(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "count", "phrases": ["对不起"], "max": 1}})
    v = agent(book, "对不起。", "好的。", "对不起，对不起。")
    assert verdicts(v) == ["violation"] and v[0]["turn"] == 5 and v[0]["span"] == [0, 3]
    assert agent(book, "对不起。", "好的。") == []


# ---- response_time ----------------------------------------------------------------------------

def test_response_time(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "response_time", "seconds": 3}})
    turns = [{"role": "caller", "text": "喂？", "at": 0.0}, {"role": "agent", "text": "您好。", "at": 5.25},
             {"role": "caller", "text": "查话费。", "at": 9.0}, {"role": "agent", "text": "好的。", "at": 10.0},
             {"role": "caller", "text": "多少？"}, {"role": "agent", "text": "89元。", "at": 30.0}]
    found = grade({"turns": turns}, book)["findings"]
    assert [(f["turn"], f["evidence"], f["span"]) for f in found] == [(1, "用时 5.2 秒", None)]


def test_response_time_since_any_turn(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "response_time", "seconds": 30, "since": "any"}})
    turns = [{"role": "caller", "text": "查一下。", "at": 0.0}, {"role": "agent", "text": "请稍等。（保持）", "at": 2.0},
             {"role": "agent", "text": "查到了。", "at": 40.0}]
    found = grade({"turns": turns}, book)["findings"]
    assert [(f["turn"], f["evidence"]) for f in found] == [(2, "用时 38.0 秒")]
    book = make_book(tmp_path, {"check": {"op": "response_time", "seconds": 30}})
    assert grade({"turns": turns}, book)["findings"] == []


def test_response_time_hold_counts_from_the_agents_request_to_wait(tmp_path):
    check = {"op": "response_time", "seconds": 30, "since": "any", "hold": ["稍等"]}
    book = make_book(tmp_path, {"check": check})
    turns = [{"role": "caller", "text": "查一下单号。", "at": 0.0},
             {"role": "agent", "text": "请您稍等，我看一下。", "at": 4.0},
             {"role": "caller", "text": "喂？还在吗？", "at": 40.0},
             {"role": "agent", "text": "在的，让您久等了。", "at": 41.5}]
    found = grade({"turns": turns}, book)["findings"]
    assert [(f["turn"], f["evidence"]) for f in found] == [(3, "用时 37.5 秒")]
    # without a request to wait, the caller's question starts the clock as before
    turns[1]["text"] = "单号是多少？"
    assert grade({"turns": turns}, book)["findings"] == []
    # and an answer within 30 s of the request is fine even after the caller's interjection
    turns[1]["text"], turns[2]["at"], turns[3]["at"] = "请您稍等。", 20.0, 30.0
    assert grade({"turns": turns}, book)["findings"] == []


# ---- sequence ---------------------------------------------------------------------------------

def test_sequence(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "sequence", "first": ["还有(其他|其它)问题吗"], "then": ["再见"]}})
    ok = agent(book, "请问还有其他问题吗？", "感谢来电，再见。")
    assert verdicts(ok) == ["ok"] and ok[0]["turn"] == 1 and ok[0]["evidence"] == "还有其他问题吗"
    assert verdicts(agent(book, "请问还有其它问题吗？没有的话再见。")) == ["ok"]
    assert verdicts(agent(book, "请问还有其他问题吗？", "好的，再见。", "再见！")) == ["ok"]
    miss = agent(book, "好的。", "再见。")
    assert verdicts(miss) == ["missing"] and miss[0]["turn"] == 3 and miss[0]["evidence"] == "再见"
    assert verdicts(agent(book, "再见，还有其他问题吗？")) == ["missing"]   # asked after the goodbye
    assert agent(book, "好的，我帮您查。") == []                             # no goodbye yet: nothing


def test_sequence_window(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "sequence", "first": ["请您稍等"], "then": ["（保持）"], "window": 1}})
    assert verdicts(agent(book, "请您稍等。", "（保持）")) == ["ok"]
    assert verdicts(agent(book, "请您稍等。", "好的。", "(保持)")) == ["missing"]


# ---- terse / excessive ------------------------------------------------------------------------

def test_terse(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "terse", "max_chars": 5, "min_count": 2}})
    turns = [{"role": "caller", "text": "能退款吗？"}, {"role": "agent", "text": "不能。"},
             {"role": "caller", "text": "为什么呢"}, {"role": "agent", "text": "规定。"},
             {"role": "caller", "text": "那怎么办？"}, {"role": "agent", "text": "没办法。"}]
    found = grade({"turns": turns}, book)["findings"]
    assert [(f["turn"], f["verdict"], f["evidence"]) for f in found] == [(3, "violation", "规定。")]
    turns[3] = {"role": "agent", "text": "因为这个套餐合约期内不能退，我帮您看看其他办法。"}
    assert [f["turn"] for f in grade({"turns": turns}, book)["findings"]] == [5]
    turns[5] = {"role": "agent", "text": "我帮您把情况登记下来，两小时内回电。"}
    assert grade({"turns": turns}, book)["findings"] == []


def test_excessive_with_unless(tmp_path):
    book = make_book(tmp_path, {"check": {"op": "excessive", "phrases": ["可能", "好像", "不太清楚"], "max": 1,
                                          "unless": ["可能是电话线路有点问题"]}})
    v = agent(book, "可能是欠费了。", "好像不是。", "我也不太清楚。")
    assert verdicts(v) == ["violation"] and v[0]["turn"] == 3 and v[0]["evidence"] == "好像"
    assert agent(book, "可能是电话线路有点问题，", "可能是电话线路有点问题。", "好像是的。") == []


# ---- the example harness ----------------------------------------------------------------------

def test_run_example_string_and_dict(tmp_path):
    book = make_book(tmp_path, {"channels": ["chat"], "when": {"after_caller": ["无声"]},
                                "example_context": [{"role": "caller", "text": "（无声）"}],
                                "check": {"op": "required", "any": ["请问有什么可以帮您"]}})
    assert verdicts(run_example(book, "t.r0", "您好，请问有什么可以帮您？")) == ["ok"]
    assert verdicts(run_example(book, "t.r0", "喂？")) == ["missing"]
    # a dict example is a transcript: no silent caller turn, so the rule does not apply
    assert run_example(book, "t.r0", {"turns": [{"role": "caller", "text": "你好"},
                                                {"role": "agent", "text": "喂？"}]}) == []
    # the phone channel is not the rule's channel
    assert run_example(book, "t.r0", {"channel": "phone", "turns": [{"role": "caller", "text": "（无声）"},
                                                                    {"role": "agent", "text": "喂？"}]}) == []


@pytest.mark.parametrize("text", ["您好，  星海 宽带！", "Ａ（无声）ｂ…您好", "\u3000您好,星海宽带 ", "ﬁ您好，星海宽带"])
def test_spans_point_into_original_text(tmp_path, text):
    book = make_book(tmp_path, {"check": {"op": "forbidden", "patterns": ["您好,?星海", "无声\\)b\\.\\.\\.您"]}})
    found = agent(book, text)
    assert found
    check_spans(found, {1: text})
