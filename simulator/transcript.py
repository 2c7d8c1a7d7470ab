"""The transcript: the grader's input, as in DESIGN.md ("Transcript").

Loading validates everything once, so the grader can trust its input and stay pure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, asdict
from typing import Any

from .errors import TranscriptError

MAX_BYTES = 2_000_000  # a 40-turn call is ~10 KB; anything near this is not a call
MAX_TURNS = 2_000
MAX_TURN_CHARS = 5_000
SURROGATE = re.compile("[\ud800-\udfff]")
ROLES = ("caller", "agent")
CHANNELS = ("phone", "chat")


@dataclass(frozen=True)
class Turn:
    role: str
    text: str
    at: float | None = None

    def to_dict(self) -> dict:
        d = {"role": self.role, "text": self.text}
        if self.at is not None:
            d["at"] = self.at
        return d


@dataclass(frozen=True)
class Transcript:
    turns: tuple[Turn, ...]
    channel: str = "phone"
    company: str | None = None
    agent_name: str | None = None
    persona: str | None = None
    call_id: str | None = None
    excerpt: bool = False
    scenarios: tuple[str, ...] = ()  # optional extension: phrasebook scenarios this call trains
    extra: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"channel": self.channel, "excerpt": self.excerpt,
                             "turns": [t.to_dict() for t in self.turns]}
        for key in ("company", "agent_name", "persona", "call_id"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.scenarios:
            d["scenarios"] = list(self.scenarios)
        return d


def loads(text: str | bytes) -> Transcript:
    """Parse a transcript from JSON text; raise TranscriptError with one clear sentence."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise TranscriptError(f"transcript is too large ({len(text)} bytes; the limit is {MAX_BYTES})")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TranscriptError(f"transcript is not UTF-8 text (byte {e.start})") from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise TranscriptError(f"transcript is too large (the limit is {MAX_BYTES} bytes)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TranscriptError(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise TranscriptError("malformed JSON: nested too deeply") from None
    return from_dict(data)


def from_dict(data: Any) -> Transcript:
    """Validate a decoded transcript object (see DESIGN.md) and build a Transcript."""
    if not isinstance(data, dict):
        raise TranscriptError("transcript must be a JSON object with a \"turns\" list")
    if "turns" not in data:
        raise TranscriptError("transcript has no \"turns\" field")
    turns_in = data["turns"]
    if not isinstance(turns_in, list):
        raise TranscriptError("\"turns\" must be a list")
    if len(turns_in) > MAX_TURNS:
        raise TranscriptError(f"too many turns ({len(turns_in)}; the limit is {MAX_TURNS})")
    channel = data.get("channel", "phone") or "phone"
    if channel not in CHANNELS:
        raise TranscriptError(f"\"channel\" must be one of {', '.join(CHANNELS)}, not {channel!r}")
    turns = []
    for i, t in enumerate(turns_in):
        if not isinstance(t, dict):
            raise TranscriptError(f"turn {i} must be an object with \"role\" and \"text\"")
        role, text = t.get("role"), t.get("text")
        if role not in ROLES:
            raise TranscriptError(f"turn {i} has role {role!r}; it must be \"caller\" or \"agent\"")
        if not isinstance(text, str):
            raise TranscriptError(f"turn {i} has no \"text\" string")
        if SURROGATE.search(text):  # a "\ud83d" escape: half an emoji, not text (and unprintable as UTF-8)
            raise TranscriptError(f"turn {i} has text that is not valid Unicode (a lone surrogate)")
        if len(text) > MAX_TURN_CHARS:
            raise TranscriptError(f"turn {i} is too long ({len(text)} characters; the limit is {MAX_TURN_CHARS})")
        at = t.get("at")
        if at is not None:
            if isinstance(at, bool) or not isinstance(at, (int, float)) or at != at or at < 0 or at == float("inf"):
                raise TranscriptError(f"turn {i} has \"at\" {at!r}; it must be seconds from the call's start")
            at = float(at)
        turns.append(Turn(role=role, text=text, at=at))
    opt = {}
    for key in ("company", "agent_name", "persona", "call_id"):
        v = data.get(key)
        if v is not None and not isinstance(v, str):
            raise TranscriptError(f"\"{key}\" must be a string")
        opt[key] = v
    excerpt = data.get("excerpt", False)
    if not isinstance(excerpt, bool):
        raise TranscriptError("\"excerpt\" must be true or false")
    scenarios = data.get("scenarios") or []
    if not isinstance(scenarios, list) or not all(isinstance(s, str) for s in scenarios):
        raise TranscriptError("\"scenarios\" must be a list of scenario names")
    known = {"turns", "channel", "excerpt", "scenarios", "company", "agent_name", "persona", "call_id"}
    extra = {k: v for k, v in data.items() if k not in known}
    return Transcript(turns=tuple(turns), channel=channel, excerpt=excerpt,
                      scenarios=tuple(scenarios), extra=extra, **opt)
