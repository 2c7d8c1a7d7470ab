"""The one interface every caller backend implements.

The engine decides, the model only voices (DESIGN.md): each turn the session picks an
``Intent`` (what the caller does next, with the scripted line for it); a backend turns the
intent into one in-character line, streamed piece by piece. The scripted backend simply
yields the scripted line; model backends rewrite it. Backends never grade, never end calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence, runtime_checkable

# Intent kinds: what the caller does next. The session chooses; backends voice.
OPEN = "open"                # the first line of the call
STATE_NEED = "state_need"    # say what they want
ANSWER = "answer"            # answer what the agent asked, with a persona fact
COMPLAIN = "complain"        # repeat / push the complaint
ESCALATE = "escalate"        # get angrier
CALM_DOWN = "calm_down"      # soften a step
ACCEPT = "accept"            # accept the solution
ASK_MANDARIN = "dialect"     # keep speaking dialect / fail to be understood
SILENCE = "silence"          # say nothing: （无声）
NOISE = "noise"              # a noisy / low-volume line
NUISANCE = "nuisance"        # sales / prank / harassment talk
GOODBYE = "goodbye"          # say goodbye; the session then ends the call
HANGUP_ANGRY = "hangup_angry"
CONFUSED = "confused"        # did not understand the agent
INTENT_KINDS = (OPEN, STATE_NEED, ANSWER, COMPLAIN, ESCALATE, CALM_DOWN, ACCEPT, ASK_MANDARIN,
                SILENCE, NOISE, NUISANCE, GOODBYE, HANGUP_ANGRY, CONFUSED)


@dataclass(frozen=True)
class Intent:
    """What the caller says next, as decided by the session."""
    kind: str                 # one of INTENT_KINDS
    line: str                 # the scripted line: what the scripted backend says, and the fallback
    instruction: str = ""     # Chinese instruction for a model, e.g. "告诉客服你的宽带账号是 …"
    mood: int = 5             # 0 calm … 10 furious, after this turn's update
    facts: dict = field(default_factory=dict)  # persona facts the line may use (key -> value)


@dataclass(frozen=True)
class HistoryLine:
    role: str   # "caller" | "agent"
    text: str


@runtime_checkable
class CallerBackend(Protocol):
    """A backend voices intents. ``name`` is recorded on every caller turn it produced."""
    name: str

    def voice(self, persona, intent: Intent, history: Sequence[HistoryLine]) -> Iterator[str]:
        """Yield the caller's line in pieces (tokens). Raise CallerError on failure."""
        ...
