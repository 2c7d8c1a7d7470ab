"""One call, start to end: persona + caller backend + live grader + clock + mood + end conditions.

The session owns the policy (``simulator.personas.policy``): the engine picks each caller intent
and decides when the call ends; the backend only voices the line. Every turn and finding goes to
the ``sink`` as it happens, and ``state()`` / ``CallSession(..., state=...)`` let a call continue
in another process (web workers).
"""

from __future__ import annotations

import enum
import importlib
import time

from .callers.base import HistoryLine, Intent
from .errors import PeilianError
from .personas import policy
from .personas.policy import HANGUP_TEXT, HOLD_TEXT, NON_SPEECH, SILENT_TEXT
from .transcript import Turn

STATE_VERSION = 1
MAX_REPLY_CHARS = 1000


class EndReason(str, enum.Enum):
    SATISFIED = "satisfied"
    HANGUP = "hangup"
    SILENCE = "silence"
    AGENT_HANGUP = "agent_hangup"
    TURN_LIMIT = "turn_limit"
    INPUT_CLOSED = "input_closed"
    INTERRUPTED = "interrupted"


class SessionError(PeilianError):
    """A call was used wrongly: a reply after it ended, or a saved state that does not fit."""


def _guard():
    try:
        return importlib.import_module("simulator.callers.guard")
    except ImportError:
        return None


def interrupted_report(persona, turns, book) -> dict | None:
    """The report of a call that stopped before its end, from the turns that were stored.

    None when the trainee never replied: there is nothing of theirs to grade.
    """
    from .grading import LiveGrader

    if not any(t["role"] == "agent" for t in turns):
        return None
    live = LiveGrader(book, channel=persona.channel, company=persona.company,
                      scenarios=tuple(persona.scenarios))
    for t in turns:
        live.add_turn(Turn(t["role"], t["text"], t.get("at")))
    return _interrupted(live)


def _interrupted(live) -> dict:
    """Rules that need the call's end are left out (the cut is not the trainee's fault), and the
    call never passes: nobody heard how it would have ended."""
    report = live.report(final=True, cut_short=True)
    report["passed"] = False
    report["interrupted"] = True
    return report


class CallSession:
    """A call between a trainee and a persona; see docs/INTERNALS.md "Sessions"."""

    def __init__(self, persona, backend, book, mode: str = "practice", state: dict | None = None,
                 sink=None, clock=None, seed: int | None = None, agent_name: str | None = None,
                 call_id: str | None = None, voice_timeout: float | None = None):
        from .grading import LiveGrader

        self.persona, self.backend, self.book, self.sink = persona, backend, book, sink
        self.clock = clock or time.time
        self.voice_timeout = voice_timeout
        self.live = LiveGrader(book, channel=persona.channel, company=persona.company,
                               scenarios=tuple(persona.scenarios))
        self.findings: list[dict] = []
        if mode not in ("practice", "exam"):
            raise SessionError(f"mode must be practice or exam, not {mode!r}")
        if state is None:
            self.mode, self.agent_name, self.call_id = mode, agent_name, call_id
            self.seed = 0 if seed is None else seed
            self.started = self.clock()
            self.turns: list[dict] = []
            self.caller = policy.initial_state(persona, self.seed)
            first = policy.opening(persona, self.caller)
            self._pending = {"kind": first.kind, "line": first.line, "facts": {}, "end_after": None}
            self.ended, self.end_reason = False, None
        else:
            self._restore(state)

    # -- public API ------------------------------------------------------------------------
    @property
    def mood(self) -> int:
        return self.caller.mood

    @property
    def awaiting_caller(self) -> bool:
        """True when the caller has a line to say next (call ``caller_turn``)."""
        return not self.ended and self._pending is not None

    def caller_turn(self):
        """Stream the caller's next line; the caller turn is appended once the line is complete."""
        if not self.awaiting_caller:
            return
        p = self._pending
        intent = Intent(kind=p["kind"], line=p["line"], instruction=policy.instruction(p["kind"], p["facts"]),
                        mood=self.caller.mood, facts=dict(p["facts"]))
        result = {}
        if NON_SPEECH.match(intent.line):
            yield intent.line
            result.update(text=intent.line, backend="scripted")
        elif getattr(self.backend, "name", None) == "scripted":
            # the engine's own line: nothing generated, so nothing to validate
            yield from self.backend.voice(self.persona, intent, self._history())
            result.update(text=intent.line, backend="scripted")
        else:
            yield from self._voice(intent, result)
        self._pending = None
        self._append({"role": "caller", "text": result["text"], "at": self._now(), "backend": result["backend"],
                      "mood": self.caller.mood, "intent": intent.kind})
        if p["end_after"]:
            self._end(p["end_after"])

    def agent_turn(self, text: str, at: float | None = None) -> list[dict]:
        """Record the trainee's reply, grade it live, move the caller's mood; may end the call."""
        if self.ended:
            raise SessionError(f"the call has ended ({self.end_reason.value}); no more replies")
        text = (text or "").strip() or SILENT_TEXT
        if len(text) > MAX_REPLY_CHARS:
            raise SessionError(f"reply is too long ({len(text)} characters; the limit is {MAX_REPLY_CHARS})")
        if self._pending is not None:  # the trainee spoke over the caller's pending line
            if self._pending["end_after"]:
                self._end(self._pending["end_after"])
                raise SessionError(f"the call has ended ({self.end_reason.value}); no more replies")
            self._pending = None
        at = self._now() if at is None else float(at)
        last_caller = next((t for t in reversed(self.turns) if t["role"] == "caller"), None)
        reply_seconds = at - last_caller["at"] if last_caller and last_caller.get("at") is not None else None
        findings = self._append({"role": "agent", "text": text, "at": at})
        if text.endswith(HANGUP_TEXT):  # （挂机）, or a last sentence followed by it
            self._end("satisfied" if self.caller.goodbye_said else "agent_hangup")
            return findings
        d = policy.react(self.persona, self.caller, text, findings, reply_seconds)
        if d.end_now:
            self._end(d.end_now)
        else:
            self._pending = {"kind": d.kind, "line": d.line, "facts": d.facts, "end_after": d.end_after}
        return findings

    def hold(self, at: float | None = None) -> list[dict]:
        """The agent puts the caller on hold: （保持）."""
        return self.agent_turn(HOLD_TEXT, at)

    def hang_up(self, at: float | None = None) -> list[dict]:
        """The agent hangs up: （挂机）; ends the call."""
        return self.agent_turn(HANGUP_TEXT, at)

    def end(self, reason) -> None:
        """End the call from outside (input closed, crash recovery); does nothing if already ended."""
        if not self.ended:
            self._end(EndReason(reason).value)

    @property
    def turns_count(self) -> int:
        return len(self.turns)

    def transcript(self) -> dict:
        d = {"channel": self.persona.channel, "company": self.persona.company, "persona": self.persona.id,
             "scenarios": list(self.persona.scenarios), "excerpt": False,
             "turns": [dict(t) for t in self.turns]}
        for key in ("agent_name", "call_id"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        return d

    def report(self) -> dict:
        """The grader's report for the whole call (end-of-call rules applied; see interrupted_report)."""
        if self.end_reason is EndReason.INTERRUPTED:
            return _interrupted(self.live)
        return self.live.report(final=True)

    def state(self) -> dict:
        """Everything needed to continue this call elsewhere, as plain JSON-able data."""
        return {"version": STATE_VERSION, "persona": self.persona.id, "persona_version": self.persona.version,
                "mode": self.mode, "seed": self.seed, "started": self.started, "agent_name": self.agent_name,
                "call_id": self.call_id, "turns": [dict(t) for t in self.turns],
                "caller": self.caller.to_dict(), "pending": self._pending, "ended": self.ended,
                "end_reason": self.end_reason.value if self.end_reason else None}

    # -- internals -------------------------------------------------------------------------
    def _restore(self, s: dict) -> None:
        if s.get("version") != STATE_VERSION or s.get("persona") != self.persona.id:
            raise SessionError(f"saved call state is for persona {s.get('persona')!r} "
                               f"(version {s.get('version')}), not {self.persona.id!r}")
        self.mode, self.seed, self.started = s["mode"], s["seed"], s["started"]
        self.agent_name, self.call_id = s.get("agent_name"), s.get("call_id")
        self.turns = [dict(t) for t in s["turns"]]
        for t in self.turns:  # the grader is pure: replaying the turns rebuilds it exactly
            self.findings.extend(self.live.add_turn(Turn(t["role"], t["text"], t.get("at"))))
        self.caller = policy.CallerState.from_dict(s["caller"])
        self._pending = s["pending"]
        self.ended = s["ended"]
        self.end_reason = EndReason(s["end_reason"]) if s["end_reason"] else None

    def _now(self) -> float:
        return round(max(0.0, self.clock() - self.started), 2)

    def _history(self) -> list[HistoryLine]:
        return [HistoryLine(t["role"], t["text"]) for t in self.turns]

    def _voice(self, intent: Intent, result: dict):
        """Voice through the guard (validates every model line) when present, else the backend directly."""
        guard, pieces = _guard(), []
        name = getattr(self.backend, "name", "scripted")
        try:
            if guard is not None and hasattr(guard, "guarded_voice"):
                opts = {"timeout": self.voice_timeout} if self.voice_timeout else {}
                line = guard.guarded_voice(self.backend, self.persona, intent, self._history(), **opts)
                for piece in line:
                    pieces.append(piece)
                    yield piece
                result.update(text=line.text, backend=line.backend)
                return
            for piece in self.backend.voice(self.persona, intent, self._history()):
                pieces.append(piece)
                yield piece
        except Exception:  # any backend failure: the trainee still hears a line
            pass
        text = "".join(pieces).strip()
        if text:  # what the trainee saw is what the transcript says
            result.update(text=text, backend=name)
            return
        result.update(text=intent.line, backend="fallback")
        yield intent.line

    def _append(self, turn: dict) -> list[dict]:
        self.turns.append(turn)
        index = len(self.turns) - 1
        self._emit("on_turn", index, dict(turn))
        findings = self.live.add_turn(Turn(turn["role"], turn["text"], turn.get("at")))
        self.findings.extend(findings)
        if turn["role"] == "agent" or findings:
            self._emit("on_findings", index, findings)
        return findings

    def _end(self, reason: str) -> None:
        self.ended, self.end_reason, self._pending = True, EndReason(reason), None
        if self.sink is not None and hasattr(self.sink, "on_end"):
            self.sink.on_end(self.end_reason.value, self.report())

    def _emit(self, name: str, *args) -> None:
        if self.sink is not None and hasattr(self.sink, name):
            getattr(self.sink, name)(*args)
