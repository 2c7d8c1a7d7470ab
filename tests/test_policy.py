"""The persona policy alone (pure steps over explicit state, no grader, no backend)."""

from __future__ import annotations

import json

from simulator.callers import base as k
from simulator.personas import find_persona
from simulator.personas.policy import CallerState, band, initial_state, opening, react


def test_mood_bands():
    assert [band(m) for m in (0, 3, 4, 6, 7, 10)] == ["calm", "calm", "annoyed", "annoyed", "angry", "angry"]


def test_state_is_plain_json():
    p = find_persona("angry-broadband")
    st = initial_state(p, seed=3)
    react(p, st, "请问您的宽带账号是多少？")
    again = CallerState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert again == st and again.revealed == ["account"]


def test_finding_triggers_match_rule_globs_tags_and_verdicts():
    p = find_persona("angry-broadband")
    st = initial_state(p)
    rude = {"rule": "forbidden.impatient", "verdict": "violation", "tags": ["rude"]}
    d = react(p, st, "嗯。", findings=[rude])
    assert d.delta == 3 and st.mood == 10 and d.kind == k.HANGUP_ANGRY and d.end_after == "hangup"
    st = initial_state(p)
    d = react(p, st, "嗯。", findings=[{**rude, "verdict": "ok"}])  # verdict must match too
    assert d.delta == 0 and st.mood == p.mood.start


def test_opening_and_silent_line():
    silent = find_persona("silent-line")
    st = initial_state(silent)
    assert opening(silent, st).line == "（无声）"
    assert react(silent, st, "您好，星海宽带，请问有什么可以帮您？").kind == k.SILENCE
    assert react(silent, st, "对不起，您的电话没有声音，请您换一部电话再打来好吗？").end_now == "silence"


def test_dialect_until_asked_for_mandarin():
    p = find_persona("dialect-sichuan")
    st = initial_state(p)
    assert opening(p, st).line.startswith("（方言）")
    assert react(p, st, "您好，安居物业，请问有什么可以帮您？").kind == k.ASK_MANDARIN
    d = react(p, st, "对不起，请您讲普通话好吗？")
    assert d.kind == k.STATE_NEED and not st.dialect_on and "（方言）" not in d.line


def test_noisy_line_until_the_agent_follows_the_procedure():
    p = find_persona("noisy-line")
    st = initial_state(p)
    assert react(p, st, "您好，星海宽带，请问有什么可以帮您？").kind == k.NOISE
    d = react(p, st, "对不起，电话杂音太大，请您重新拨打一下好吗？")
    assert st.line_fixed and d.kind == k.GOODBYE and st.goodbye_said
    assert react(p, st, "好的，再见。").end_now == "satisfied"


def test_answers_fill_fact_values_and_two_facts_make_one_line():
    p = find_persona("angry-broadband")
    st = initial_state(p)
    d = react(p, st, "请问您的账号和地址是？")
    assert d.kind == k.ANSWER and set(d.facts) == {"account", "address"}
    assert p.facts["account"].value in d.line and p.facts["address"].value in d.line
    assert "{" not in d.line


def test_turn_limit():
    p = find_persona("suggestion")
    st = initial_state(p)
    decisions = [react(p, st, "嗯。") for _ in range(p.end.max_turns)]
    assert all(d.end_now is None for d in decisions[:-1]) and decisions[-1].end_now == "turn_limit"
