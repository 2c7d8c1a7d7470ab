"""The persona file format, as pydantic models (extra keys are errors, so typos are caught).

A persona says who calls, why, what they reveal only when asked, how their mood moves in
reaction to the trainee, which scripted lines they use per intent and mood band, and when the
call ends. The session (``simulator.session``) reads it; backends only voice its lines.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ..callers.base import INTENT_KINDS

SLUG = r"^[a-z0-9][a-z0-9-]{0,47}$"
FACT_KEY = r"^[a-z][a-z0-9_]{0,31}$"
MOOD_BANDS = ("calm", "annoyed", "angry")

Delta = Annotated[int, Field(ge=-10, le=10)]
MoodValue = Annotated[int, Field(ge=0, le=10)]
Text = Annotated[str, Field(min_length=1, max_length=400)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"正则表达式写错了（not a valid pattern: {e}）") from None
    return value


Pattern = Annotated[str, Field(min_length=1), AfterValidator(_check_regex)]


class Caller(Strict):
    surname: Annotated[str, Field(min_length=1, max_length=4)]
    gender: Literal["male", "female"]
    address_as: Annotated[str, Field(min_length=1, max_length=10)]   # e.g. 张先生
    background: str = ""


class Fact(Strict):
    value: Text
    reveal: Literal["always", "when_asked"] = "when_asked"
    ask_patterns: list[Pattern] = []  # regexes; one must match the agent's reply
    say: str | None = None          # how the caller gives it, e.g. "我的账号是{value}。"

    @model_validator(mode="after")
    def _askable(self):
        if self.reveal == "when_asked" and not self.ask_patterns:
            raise ValueError("问了才说的信息需要写 ask_patterns（a when_asked fact needs ask_patterns (what the agent must ask)）")
        return self


class Speech(Strict):
    dialect: str = "none"           # "none" or a name, e.g. 四川话
    verbosity: Literal["terse", "normal", "chatty"] = "normal"
    # the line: clear, noisy, low_volume (caller too quiet), silent, or hard_to_hear (the caller cannot
    # hear the agent until the agent apologises and checks: 您看这样可以了吗)
    line: Literal["clear", "noisy", "low_volume", "silent", "hard_to_hear"] = "clear"
    style: str = ""                 # free text for a model: how this caller talks


class FindingTrigger(Strict):
    on: Literal["finding"]
    rule: str | None = None         # a rule id glob, e.g. "forbidden.*"
    tag: str | None = None          # or a rule tag, e.g. rude
    verdict: Literal["violation", "missing", "ok"] | None = None
    delta: Delta

    @model_validator(mode="after")
    def _one_ref(self):
        if (self.rule is None) == (self.tag is None):
            raise ValueError("rule 和 tag 二选一（a finding trigger needs exactly one of rule or tag）")
        return self


class PhraseTrigger(Strict):
    on: Literal["phrase"]
    phrases: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    delta: Delta


class SlowReplyTrigger(Strict):
    on: Literal["slow_reply"]
    seconds: Annotated[float, Field(gt=0, le=600)]
    delta: Delta


class HoldTrigger(Strict):
    on: Literal["hold_without_thanks"]
    delta: Delta


class FactAskedTrigger(Strict):
    on: Literal["fact_asked"]
    delta: Delta


Trigger = Annotated[Union[FindingTrigger, PhraseTrigger, SlowReplyTrigger, HoldTrigger, FactAskedTrigger],
                    Field(discriminator="on")]


class Mood(Strict):
    start: MoodValue = 5
    satisfied_below: MoodValue = 3      # satisfied only when mood <= this
    hangup_above: MoodValue | None = 9  # hangs up angrily when mood >= this; null: never
    triggers: list[Trigger] = []


Line = Annotated[str, Field(min_length=1, max_length=200)]


class MoodLines(Strict):
    """Lines for one intent by mood band (calm 0-3, annoyed 4-6, angry 7-10); ``any`` fits every band."""
    calm: list[Line] = []
    annoyed: list[Line] = []
    angry: list[Line] = []
    any: list[Line] = []

    @model_validator(mode="before")
    @classmethod
    def _plain_list(cls, value):
        return {"any": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _not_empty(self):
        if not (self.calm or self.annoyed or self.angry or self.any):
            raise ValueError("至少写一句台词（give at least one line）")
        return self

    def band(self, name: str) -> list[str]:
        """Lines for a band, else the nearest band that has some."""
        order = {"calm": ("calm", "annoyed", "angry"), "annoyed": ("annoyed", "calm", "angry"),
                 "angry": ("angry", "annoyed", "calm")}[name]
        for b in order:
            lines = getattr(self, b)
            if lines:
                return list(lines) + list(self.any)
        return list(self.any)

    def all_lines(self) -> list[str]:
        return [*self.calm, *self.annoyed, *self.angry, *self.any]


IntentKind = Literal[INTENT_KINDS]  # type: ignore[valid-type]


class SatisfiedWhen(Strict):
    facts: Literal["all"] | list[str] = "all"   # when_asked facts the caller must have given
    findings: list[str] = []    # rule globs or tags that must each have had an ``ok`` finding
    said: list[Pattern] = []    # regexes each matched by some agent reply


class End(Strict):
    max_turns: Annotated[int, Field(ge=1, le=80)] = 16     # agent replies before the call is cut
    silence_turns: Annotated[int, Field(ge=1, le=20)] | None = None   # silent line: hang up after N
    satisfied_when: SatisfiedWhen = SatisfiedWhen()
    hangup_when_mood_above: MoodValue | None = None   # same as mood.hangup_above; set at most one


class Persona(Strict):
    id: Annotated[str, Field(pattern=SLUG)]
    version: Annotated[int, Field(ge=1)] = 1
    title: Text
    difficulty: Literal["easy", "medium", "hard"]
    channel: Literal["phone", "chat"] = "phone"
    company: Text
    scenarios: list[str] = []
    caller: Caller
    goal: Text
    facts: dict[Annotated[str, Field(pattern=FACT_KEY)], Fact] = {}
    speech: Speech = Speech()
    mood: Mood = Mood()
    lines: dict[IntentKind, MoodLines]
    end: End = End()

    @property
    def hangup_threshold(self) -> int | None:
        if self.end.hangup_when_mood_above is not None:
            return self.end.hangup_when_mood_above
        return self.mood.hangup_above

    def describe(self) -> str:
        """A short Chinese card about this caller, for model prompts and the trainer's editor."""
        c = self.caller
        parts = [f"你是{c.address_as}（{'男' if c.gender == 'male' else '女'}），正在给{self.company}"
                 f"{'在线客服发消息' if self.channel == 'chat' else '客服打电话'}。",
                 f"背景：{c.background}" if c.background else "", f"你的目的：{self.goal}"]
        if self.speech.dialect not in ("", "none"):
            parts.append(f"你说{self.speech.dialect}。")
        if self.speech.style:
            parts.append(f"说话方式：{self.speech.style}")
        return "\n".join(p for p in parts if p)

    def to_yaml(self) -> str:
        """The persona as YAML text that loads back to an equal persona."""
        from .loader import dump_yaml
        return dump_yaml(self)
