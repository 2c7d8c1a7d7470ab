"""CallSession with the scripted caller and the real grader: policy, end conditions, resume, sink."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.callers import ScriptedBackend, get_backend
from simulator.errors import CallerError
from simulator.grading import load_phrasebook
from simulator.personas import find_persona, load_all
from simulator.session import CallSession, EndReason, SessionError
from simulator.transcript import from_dict
from standard_agent import lazy_replies, play, rude_replies, standard_replies

REPO = Path(__file__).resolve().parents[1]
PERSONAS = load_all()
IDS = [p.id for p in PERSONAS]


@pytest.fixture(scope="module")
def book():
    return load_phrasebook()


def ticking(step=2.0):
    """A fake clock: every reading is ``step`` seconds after the last."""
    t = itertools.count(0, step)
    return lambda: next(t)


def new(book, persona_id, **kw):
    kw.setdefault("clock", ticking())
    return CallSession(find_persona(persona_id), ScriptedBackend(seed=kw.pop("backend_seed", 0)), book, **kw)


def agent_turns(s):
    return sum(1 for t in s.turns if t["role"] == "agent")


@pytest.mark.parametrize("persona", PERSONAS, ids=IDS)
def test_standard_trainee_ends_the_call_well(book, persona):
    s = CallSession(persona, ScriptedBackend(), book, clock=ticking())
    used = play(s, standard_replies(persona))
    expected = EndReason.SILENCE if persona.speech.line == "silent" else EndReason.SATISFIED
    assert s.end_reason == expected, [(t["role"], t["text"], t.get("mood")) for t in s.turns]
    assert len(used) <= persona.end.max_turns
    if expected == EndReason.SATISFIED:
        goodbye = [t for t in s.turns if t.get("intent") == "goodbye"]
        assert len(goodbye) == 1 and s.mood <= persona.mood.satisfied_below


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p.hangup_threshold is not None],
                         ids=lambda p: p.id)
def test_rude_trainee_drives_the_caller_to_hang_up(book, persona):
    s = CallSession(persona, ScriptedBackend(), book, clock=ticking())
    play(s, rude_replies())
    assert s.end_reason == EndReason.HANGUP
    assert s.turns[-1]["role"] == "caller" and s.turns[-1]["intent"] == "hangup_angry"
    assert s.turns[-1]["mood"] >= persona.hangup_threshold


@pytest.mark.parametrize("persona", PERSONAS, ids=IDS)
def test_every_call_ends_within_max_turns(book, persona):
    s = CallSession(persona, ScriptedBackend(), book, clock=ticking())
    play(s, lazy_replies())
    assert s.ended and agent_turns(s) <= persona.end.max_turns
    assert s.end_reason in (EndReason.TURN_LIMIT, EndReason.SILENCE)


def test_silent_line_hangs_up_after_the_standard_steps(book):
    s = new(book, "silent-line")
    play(s, standard_replies(s.persona))
    assert [t["text"] for t in s.turns if t["role"] == "caller"] == ["（无声）"] * 3
    assert agent_turns(s) == 3 and s.end_reason == EndReason.SILENCE


def test_nuisance_caller_ends_after_hotline_sentence_and_announced_hangup(book):
    s = new(book, "nuisance-sales")
    replies = standard_replies(s.persona)
    play(s, replies[:2])  # greeting + hotline sentence: the caller keeps talking
    assert not s.ended and s.turns[-1]["intent"] == "nuisance"
    s.agent_turn("您好，很抱歉，我将挂机。")
    "".join(s.caller_turn())
    assert s.turns[-1]["intent"] == "goodbye" and not s.ended
    s.hang_up()
    assert s.end_reason == EndReason.SATISFIED


def test_facts_are_revealed_only_when_asked(book):
    s = new(book, "angry-broadband")
    account = s.persona.facts["account"].value
    play(s, ["您好，星海宽带，请问有什么可以帮您？", "非常抱歉，您别着急。", "我们会尽快处理的。"])
    assert not any(account in t["text"] for t in s.turns if t["role"] == "caller")
    s.agent_turn("请问您的宽带账号是多少？")
    "".join(s.caller_turn())
    assert account in s.turns[-1]["text"] and s.turns[-1]["intent"] == "answer"
    assert "account" in s.state()["caller"]["revealed"]


def test_mood_moves_with_triggers_and_stays_in_range(book):
    s = new(book, "angry-broadband")
    "".join(s.caller_turn())
    start = s.mood
    s.agent_turn("非常抱歉，我理解您的心情，请您别着急。")
    assert s.mood < start
    for _ in range(3):
        if s.ended:
            break
        "".join(s.caller_turn())
        if not s.ended:
            s.agent_turn("你烦不烦啊，这是规定！")
    assert s.mood == 10 and s.end_reason in (None, EndReason.HANGUP)


def test_slow_reply_and_hold_without_thanks_raise_mood(book):
    now = [0.0]
    s = new(book, "angry-broadband", clock=lambda: now[0])
    "".join(s.caller_turn())  # at 0
    base = s.mood
    s.agent_turn("好的。", at=40.0)  # 40 s after the caller: slow_reply (15 s) fires
    assert s.mood == base + 1
    now[0] = 41.0
    "".join(s.caller_turn())
    s.hold(at=42.0)
    now[0] = 42.0
    assert "".join(s.caller_turn()) == "（等待）"
    s.agent_turn("好的。", at=50.0)  # back from hold without thanking: +1
    assert s.mood == base + 2
    now[0] = 0.0
    t = new(book, "angry-broadband", clock=lambda: now[0])
    "".join(t.caller_turn())
    t.hold(at=1.0)
    "".join(t.caller_turn())
    t.agent_turn("感谢您的耐心等待。", at=2.0)
    assert t.mood == t.persona.mood.start


def test_state_round_trip_resumes_exactly(book):
    persona = find_persona("angry-broadband")
    replies = standard_replies(persona)
    whole = CallSession(persona, ScriptedBackend(), book, clock=ticking(), seed=7)
    play(whole, replies)

    clock = ticking()
    first = CallSession(persona, ScriptedBackend(), book, clock=clock, seed=7)
    play(first, replies[:3])
    saved = json.loads(json.dumps(first.state()))  # through JSON, as the web store keeps it
    second = CallSession(persona, ScriptedBackend(), book, clock=clock, state=saved)
    assert second.turns == first.turns and second.mood == first.mood and second.findings == first.findings
    play(second, replies[3:])
    assert second.turns == whole.turns
    assert second.end_reason == whole.end_reason == EndReason.SATISFIED
    assert second.report() == whole.report()


RESUME_SCRIPT = """
import itertools, json, sys
sys.path.insert(0, "tests")
from simulator.callers import ScriptedBackend
from simulator.grading import load_phrasebook
from simulator.personas import find_persona
from simulator.session import CallSession
from standard_agent import play
state = json.load(sys.stdin)
t = itertools.count(len(state["turns"]) * 2.0 + 2.0, 2.0)
s = CallSession(find_persona(state["persona"]), ScriptedBackend(), load_phrasebook(), state=state,
                clock=lambda: next(t))
play(s, json.loads(sys.argv[1]))
print(json.dumps({"turns": s.turns, "reason": s.end_reason.value}, ensure_ascii=False))
"""


def test_call_continues_in_another_process(book):
    persona = find_persona("dialect-sichuan")
    replies = standard_replies(persona)
    whole = CallSession(persona, ScriptedBackend(), book, clock=ticking(), seed=3)
    play(whole, replies)
    first = CallSession(persona, ScriptedBackend(), book, clock=ticking(), seed=3)
    play(first, replies[:4])
    out = subprocess.run([sys.executable, "-c", RESUME_SCRIPT, json.dumps(replies[4:], ensure_ascii=False)],
                         input=json.dumps(first.state()), capture_output=True, text=True, cwd=REPO,
                         timeout=120, check=True)
    result = json.loads(out.stdout)
    assert result["reason"] == "satisfied"
    assert result["turns"] == whole.turns


def test_resume_refuses_another_persona(book):
    s = new(book, "angry-broadband")
    with pytest.raises(SessionError, match="persona 'angry-broadband'"):
        CallSession(find_persona("suggestion"), ScriptedBackend(), book, state=s.state())


class Recorder:
    def __init__(self):
        self.turns, self.findings, self.ends = [], [], []

    def on_turn(self, index, turn):
        self.turns.append((index, turn))

    def on_findings(self, index, findings):
        self.findings.append((index, findings))

    def on_end(self, reason, report):
        self.ends.append((reason, report))


def test_sink_receives_every_turn_findings_and_the_end(book):
    sink = Recorder()
    s = new(book, "price-quote", sink=sink)
    play(s, standard_replies(s.persona))
    assert [i for i, _ in sink.turns] == list(range(len(s.turns)))
    assert [t for _, t in sink.turns] == s.turns
    agent_idx = [i for i, t in enumerate(s.turns) if t["role"] == "agent"]
    assert [i for i, _ in sink.findings] == agent_idx
    assert [f for _, fs in sink.findings for f in fs] == s.findings
    assert sink.ends == [("satisfied", s.report())]


def test_turn_records_and_transcript_contract(book):
    s = new(book, "chat-order", agent_name="A1024")
    play(s, standard_replies(s.persona))
    for t in s.turns:
        assert {"role", "text", "at"} <= set(t)
        if t["role"] == "caller":
            assert t["backend"] == "scripted" and 0 <= t["mood"] <= 10 and t["intent"]
    ats = [t["at"] for t in s.turns]
    assert ats == sorted(ats)
    d = s.transcript()
    assert (d["channel"], d["company"], d["persona"], d["agent_name"]) == ("chat", "云购商城", "chat-order", "A1024")
    assert d["scenarios"] == ["chat", "complaint"]
    assert len(from_dict(d).turns) == len(s.turns)
    report = s.report()
    assert 0 <= report["score"] <= 100 and isinstance(report["findings"], list)


def test_agent_hangup_and_replies_after_the_end(book):
    s = new(book, "angry-broadband")
    "".join(s.caller_turn())
    s.hang_up()
    assert s.end_reason == EndReason.AGENT_HANGUP and s.turns[-1]["text"] == "（挂机）"
    assert list(s.caller_turn()) == []
    with pytest.raises(SessionError, match="the call has ended"):
        s.agent_turn("喂？")
    s.end("interrupted")  # already ended: unchanged
    assert s.end_reason == EndReason.AGENT_HANGUP


def test_outside_end_reasons(book):
    s = new(book, "suggestion")
    "".join(s.caller_turn())
    s.end("input_closed")
    assert s.ended and s.end_reason == EndReason.INPUT_CLOSED


class Broken:
    name = "broken"

    def voice(self, persona, intent, history):
        raise CallerError("server down")
        yield  # pragma: no cover


def test_failing_backend_falls_back_to_the_scripted_line(book):
    s = CallSession(find_persona("angry-broadband"), Broken(), book, clock=ticking())
    pending = s.state()["pending"]["line"]
    assert "".join(s.caller_turn()) == pending
    assert s.turns[-1]["backend"] == "fallback" and s.turns[-1]["text"] == pending


def test_scripted_backend_streams_deterministically():
    from simulator.callers.base import Intent

    line = "喂？你们星海宽带怎么回事啊，我家网断了三天了！"
    intent = Intent(kind="open", line=line)
    a = list(ScriptedBackend(seed=1).voice(None, intent, []))
    assert "".join(a) == line and len(a) > 5 and max(map(len, a)) <= 3
    assert a == list(ScriptedBackend(seed=1).voice(None, intent, []))
    assert any(list(ScriptedBackend(seed=s).voice(None, intent, [])) != a for s in range(2, 6))


def test_get_backend_names():
    assert get_backend("scripted", seed=4).seed == 4
    assert get_backend("scripted", model=None, base_url=None).name == "scripted"
    with pytest.raises(CallerError, match="unknown caller backend 'gpt'"):
        get_backend("gpt")


def test_same_seed_same_call_and_lines_vary(book):
    calls = []
    for seed in (1, 1, 2, 3, 4):
        s = new(book, "angry-broadband", seed=seed)
        play(s, lazy_replies())
        calls.append([t["text"] for t in s.turns if t["role"] == "caller"])
    assert calls[0] == calls[1]
    assert len({tuple(c) for c in calls[1:]}) > 1
    for c in calls:
        assert all(a != b for a, b in zip(c, c[1:])), c  # never the same line twice in a row


class Canned:
    """A stand-in model backend that 'generates' a fixed line."""
    name = "openai"

    def __init__(self, text):
        self.text = text

    def voice(self, persona, intent, history):
        yield from (self.text[i:i + 2] for i in range(0, len(self.text), 2))


def test_generated_lines_are_validated_before_the_trainee_sees_them(book):
    persona = find_persona("angry-broadband")
    bad = CallSession(persona, Canned("您好，星海宽带，请问有什么可以帮您？"), book, clock=ticking())
    line = bad.state()["pending"]["line"]
    assert "".join(bad.caller_turn()) == line
    assert bad.turns[-1]["backend"] == "fallback"
    good_text = "喂，我家宽带断了整整三天了，你们到底管不管？"
    good = CallSession(persona, Canned(good_text), book, clock=ticking())
    assert "".join(good.caller_turn()) == good_text
    assert good.turns[-1]["backend"] == "openai" and good.turns[-1]["text"] == good_text


def test_silence_or_gibberish_from_the_agent_confuses_the_caller(book):
    s = new(book, "angry-broadband")
    "".join(s.caller_turn())
    s.agent_turn("")
    assert s.turns[-1]["text"] == "（无声）"
    "".join(s.caller_turn())
    assert s.turns[-1]["intent"] == "confused"
    s.agent_turn("ok ok")
    "".join(s.caller_turn())
    assert s.turns[-1]["intent"] == "confused"


def test_actions_may_follow_a_sentence(book):
    s = new(book, "hold-billing")
    "".join(s.caller_turn())
    s.agent_turn("请您稍等，我帮您查询一下。（保持）")
    assert "".join(s.caller_turn()) == "（等待）" and s.caller.held
    s.agent_turn("感谢您的耐心等待。")
    "".join(s.caller_turn())
    s.agent_turn("好的，再见。（挂机）")
    assert s.end_reason == EndReason.AGENT_HANGUP and s.turns[-1]["text"] == "好的，再见。（挂机）"
