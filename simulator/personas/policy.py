"""How a persona reacts to the trainee: mood, facts, end conditions and the next intent.

The engine decides, the model only voices (DESIGN.md). State is explicit and JSON-able
(``CallerState``), and ``react`` is plain code over it, so a call can resume in another process
and each step can be tested alone. No I/O here; ``simulator.session`` does the plumbing.
"""

from __future__ import annotations

import fnmatch
import random
import re
from dataclasses import asdict, dataclass, field, fields

from ..callers import base as k
from .schema import Fact, Persona

HOLD_TEXT, HANGUP_TEXT, WAIT_TEXT, SILENT_TEXT = "（保持）", "（挂机）", "（等待）", "（无声）"
NON_SPEECH = re.compile(r"^（[^（）]*）$")
THANKS_AFTER_HOLD = re.compile(r"(感谢|谢谢).{0,8}(等待|耐心|久等)|久等")
LINE_FIX = {"noisy": re.compile(r"杂音|听不清|重新拨|换一部|再打来"),
            "low_volume": re.compile(r"声音.{0,3}小|大点声|大一点声|听不清|重新拨|换一部"),
            "hard_to_hear": re.compile(r"这样可以了吗|(能|可以)听(清|见|到)|听得(清|见|到)")}
MANDARIN = re.compile(r"普通话")
WAIT_ASK = re.compile(r"请您?稍等|请您?稍候|请您?等一下|稍等片刻")
CJK = re.compile(r"[\u4e00-\u9fff]")
SURNAME_FACT = Fact(value="-", ask_patterns=[r"贵姓|怎么称呼|您姓|姓什么|称呼您"], say="我姓{surname}。")
DEFAULT_SILENCE_TURNS = 4

DEFAULT_LINES = {
    k.OPEN: ["喂，你好。"], k.STATE_NEED: ["我想咨询个事情。"], k.ANSWER: ["{value}。"],
    k.COMPLAIN: ["那到底怎么办呢？"], k.ESCALATE: ["你这是什么态度？"], k.CALM_DOWN: ["嗯，好吧。"],
    k.ACCEPT: ["好的，那就这样吧。"], k.ASK_MANDARIN: ["（方言）你听得懂不嘛？"], k.SILENCE: [SILENT_TEXT],
    k.NOISE: ["（杂音很大）喂……听得到吗……"], k.NUISANCE: ["你们要不要办个贷款？利息很低的。"],
    k.GOODBYE: ["好的，谢谢，再见。"], k.HANGUP_ANGRY: ["算了，不说了！"], k.CONFUSED: ["喂？喂？你说什么？", "啊？我没听清。"],
}
FALLBACK = {k.CALM_DOWN: (k.ACCEPT,), k.ACCEPT: (k.CALM_DOWN,), k.ESCALATE: (k.COMPLAIN,),
            k.COMPLAIN: (k.STATE_NEED,), k.CONFUSED: (k.COMPLAIN,), k.NUISANCE: (k.STATE_NEED,),
            k.STATE_NEED: (k.COMPLAIN, k.NUISANCE)}
INSTRUCTIONS = {
    k.OPEN: "电话刚接通，说第一句话。", k.STATE_NEED: "说明你打电话的目的。", k.ANSWER: "回答客服刚才的问题：{facts}",
    k.COMPLAIN: "继续抱怨，追问问题什么时候解决。", k.ESCALATE: "你被客服的话激怒了，更生气地回应。",
    k.CALM_DOWN: "客服的话让你平静了一些，语气缓和下来。", k.ACCEPT: "接受客服给出的处理办法。",
    k.ASK_MANDARIN: "继续用方言说你的事情。", k.SILENCE: "不说话。", k.NOISE: "线路杂音很大，只说出断断续续的几个词。",
    k.NUISANCE: "继续推销或骚扰，不理会客服的规劝。", k.GOODBYE: "问题解决了，道谢并说再见。",
    k.HANGUP_ANGRY: "你忍无可忍，说一句气话然后挂电话。", k.CONFUSED: "你没听懂客服的话，让他再说一遍。",
}


def band(mood: int) -> str:
    return "calm" if mood <= 3 else ("annoyed" if mood <= 6 else "angry")


@dataclass
class CallerState:
    """Everything the persona's side of the call remembers; ``asdict`` of it is JSON."""
    mood: int
    revealed: list = field(default_factory=list)     # fact keys the caller has given
    need_stated: bool = False
    line_fixed: bool = True                          # noisy / low-volume line dealt with
    dialect_on: bool = False
    held: bool = False                               # the agent put the caller on hold
    agent_turns: int = 0
    said_hits: list = field(default_factory=list)    # indices into end.satisfied_when.said
    ok_hits: list = field(default_factory=list)      # end.satisfied_when.findings refs seen ``ok``
    goodbye_said: bool = False
    used: dict = field(default_factory=dict)         # "kind/band" -> line indices already used
    seed: int = 0                                    # picks among a band's lines, reproducibly

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CallerState":
        known = {f.name for f in fields(cls)}  # a state saved by a newer version may carry more
        return cls(**{key: value for key, value in d.items() if key in known})


@dataclass
class Decision:
    kind: str | None = None          # the next caller intent; None when the call ends now
    line: str = ""
    facts: dict = field(default_factory=dict)
    end_now: str | None = None       # end without another caller line
    end_after: str | None = None     # end once the caller has said ``line``
    delta: int = 0


def initial_state(p: Persona, seed: int = 0) -> CallerState:
    return CallerState(mood=p.mood.start, line_fixed=p.speech.line not in LINE_FIX,
                       dialect_on=p.speech.dialect not in ("", "none"), seed=seed)


def all_facts(p: Persona) -> dict[str, Fact]:
    facts = dict(p.facts)
    facts.setdefault("surname", SURNAME_FACT.model_copy(update={"value": p.caller.surname}))
    return facts


def finding_matches(trigger, f: dict) -> bool:
    if trigger.verdict is not None and f.get("verdict") != trigger.verdict:
        return False
    if trigger.rule is not None:
        return fnmatch.fnmatchcase(str(f.get("rule", "")), trigger.rule)
    return trigger.tag in (f.get("tags") or ())


def mood_delta(p: Persona, st: CallerState, text: str, findings, reply_seconds, after_hold, asked_new) -> int:
    delta = 0
    for t in p.mood.triggers:
        hit = ((t.on == "finding" and any(finding_matches(t, f) for f in findings))
               or (t.on == "phrase" and any(ph in text for ph in t.phrases))
               or (t.on == "slow_reply" and reply_seconds is not None and reply_seconds > t.seconds)
               or (t.on == "hold_without_thanks" and after_hold and not THANKS_AFTER_HOLD.search(text))
               or (t.on == "fact_asked" and bool(asked_new)))
        delta += t.delta if hit else 0
    return delta


def satisfied(p: Persona, st: CallerState) -> bool:
    sw = p.end.satisfied_when
    need = [key for key, f in p.facts.items() if f.reveal == "when_asked"] if sw.facts == "all" else sw.facts
    return (all(key in st.revealed for key in need) and len(set(st.said_hits)) == len(sw.said)
            and all(ref in st.ok_hits for ref in sw.findings) and st.mood <= p.mood.satisfied_below)


def _ref_ok(ref: str, findings) -> bool:
    return any(f.get("verdict") == "ok" and (fnmatch.fnmatchcase(str(f.get("rule", "")), ref)
                                             or ref in (f.get("tags") or ())) for f in findings)


def react(p: Persona, st: CallerState, text: str, findings=(), reply_seconds=None) -> Decision:
    """The persona's reaction to one agent turn: updates ``st`` in place and says what comes next."""
    st.agent_turns += 1
    after_hold, st.held = st.held, text.endswith(HOLD_TEXT)  # （保持）, or "请您稍等。（保持）"
    facts = all_facts(p)
    asked = [key for key, f in facts.items() if any(re.search(pat, text) for pat in f.ask_patterns)]
    asked_new = [key for key in asked if key not in st.revealed]
    delta = mood_delta(p, st, text, findings, reply_seconds, after_hold, asked_new)
    st.mood = max(0, min(10, st.mood + delta))
    sw = p.end.satisfied_when
    progress = [i for i, pat in enumerate(sw.said) if i not in st.said_hits and re.search(pat, text)]
    st.said_hits += progress
    st.ok_hits += [ref for ref in sw.findings if ref not in st.ok_hits and _ref_ok(ref, findings)]
    if not st.line_fixed and LINE_FIX[p.speech.line].search(text):
        st.line_fixed = True
    if st.dialect_on and MANDARIN.search(text):
        st.dialect_on = False

    if st.goodbye_said:
        return Decision(end_now="satisfied", delta=delta)
    if p.speech.line == "silent":
        done = sw.said and len(set(st.said_hits)) == len(sw.said)
        if done or st.agent_turns >= (p.end.silence_turns or DEFAULT_SILENCE_TURNS):
            return Decision(end_now="silence", delta=delta)
        return Decision(kind=k.SILENCE, line=SILENT_TEXT, delta=delta)
    threshold = p.hangup_threshold
    if threshold is not None and st.mood >= threshold:
        return Decision(kind=k.HANGUP_ANGRY, line=pick_line(p, st, k.HANGUP_ANGRY), end_after="hangup", delta=delta)
    if satisfied(p, st):
        st.goodbye_said = True
        return Decision(kind=k.GOODBYE, line=pick_line(p, st, k.GOODBYE), delta=delta)
    if st.agent_turns >= p.end.max_turns:
        return Decision(end_now="turn_limit", delta=delta)
    if st.held:
        return Decision(kind=k.SILENCE, line=WAIT_TEXT, delta=delta)

    if not st.line_fixed:
        kind = k.NOISE
    elif st.dialect_on:
        kind = k.ASK_MANDARIN
    elif text == SILENT_TEXT or not CJK.search(text):  # said nothing, or nothing the caller understands
        kind = k.CONFUSED
    elif asked:
        given = asked[:2]
        st.revealed += [key for key in given if key not in st.revealed]
        return Decision(kind=k.ANSWER, line=answer_line(p, st, given), delta=delta,
                        facts={key: facts[key].value for key in given})
    elif delta >= 2 or (delta > 0 and st.mood >= 7):
        kind = k.ESCALATE
    elif WAIT_ASK.search(text):  # asked to hold on while the agent checks: the caller waits
        return Decision(kind=k.SILENCE, line=WAIT_TEXT, delta=delta)
    elif progress and len(set(st.said_hits)) >= len(sw.said) - 1 and k.ACCEPT in p.lines:
        kind = k.ACCEPT  # the solution is on the table (only the closing question is left)
    elif delta < 0 and st.need_stated:
        kind = k.CALM_DOWN
    elif not st.need_stated:
        kind = k.STATE_NEED
    else:
        kind = k.NUISANCE if k.NUISANCE in p.lines else k.COMPLAIN
    if kind in (k.STATE_NEED, k.COMPLAIN, k.NUISANCE):
        st.need_stated = True
    return Decision(kind=kind, line=pick_line(p, st, kind), delta=delta)


def opening(p: Persona, st: CallerState) -> Decision:
    """The caller's first line."""
    if p.speech.line == "silent":
        return Decision(kind=k.SILENCE, line=SILENT_TEXT)
    return Decision(kind=k.OPEN, line=pick_line(p, st, k.OPEN))


def _lines_for(p: Persona, kind: str, mood: int) -> tuple[str, list[str]]:
    for candidate in (kind, *FALLBACK.get(kind, ())):
        if candidate in p.lines:
            return candidate, p.lines[candidate].band(band(mood))
    return kind, list(DEFAULT_LINES[kind])


def fill(p: Persona, line: str, **extra) -> str:
    values = {"surname": p.caller.surname, "address_as": p.caller.address_as, "company": p.company,
              **{key: f.value for key, f in p.facts.items()}, **extra}
    return re.sub(r"\{([^{}]*)\}", lambda m: str(values.get(m.group(1), m.group(0))), line)


def pick_line(p: Persona, st: CallerState, kind: str, **extra) -> str:
    """A line for ``kind`` in the current mood band, not repeating one already used while others are left."""
    source, lines = _lines_for(p, kind, st.mood)
    slot = f"{source}/{band(st.mood)}"
    used = st.used.setdefault(slot, [])
    fresh = [i for i in range(len(lines)) if i not in used]
    if not fresh:  # all used: start over, but never say the line just said again
        fresh = [i for i in range(len(lines)) if not used or i != used[-1] or len(lines) == 1]
        used.clear()
    i = random.Random(f"{st.seed}|{st.agent_turns}|{slot}").choice(fresh)
    used.append(i)
    return fill(p, lines[i], **extra)


def answer_line(p: Persona, st: CallerState, keys: list[str]) -> str:
    facts = all_facts(p)
    parts = []
    for key in keys:
        f = facts[key]
        parts.append(fill(p, f.say, value=f.value) if f.say else pick_line(p, st, k.ANSWER, value=f.value))
    return "，".join(part.rstrip("。！？!?.，, ") for part in parts) + "。" if len(parts) > 1 else parts[0]


def instruction(kind: str, facts: dict) -> str:
    text = INSTRUCTIONS.get(kind, "")
    return text.replace("{facts}", "；".join(f"{key}是{value}" for key, value in facts.items()))
