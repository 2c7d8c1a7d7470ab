"""``peilian call``: play a call in the terminal, the trainee typing one reply a line.

Text mode streams the caller's lines and shows the live grade after each reply; ``--jsonl``
prints one JSON event a line instead (DESIGN.md "Command line"), so calls can be scripted.
"""

from __future__ import annotations

import json
import sys

from .callers import get_backend
from .personas import find_persona
from .session import CallSession

END_TEXT = {"satisfied": "客户满意，通话结束", "hangup": "客户生气挂机", "silence": "无声电话，对方挂机",
            "agent_hangup": "客服挂机", "turn_limit": "通话轮数已到上限", "input_closed": "输入结束，通话中止",
            "interrupted": "通话中断"}
MARK = {"ok": "✓", "violation": "✗", "missing": "△"}


class _Json:
    def __init__(self, out):
        self.out = out

    def _emit(self, obj):
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()

    def start(self, persona):
        pass

    def caller(self, session):
        for _ in session.caller_turn():
            pass
        t = session.turns[-1]
        self._emit({"event": "caller", "text": t["text"], "mood": t["mood"], "backend": t["backend"]})

    def agent(self, text, index, findings):
        self._emit({"event": "agent", "text": text})
        self._emit({"event": "grade", "turn": index, "findings": findings})

    def end(self, reason, report):
        self._emit({"event": "end", "reason": reason, "report": report})


class _Text:
    def __init__(self, out, interactive):
        self.out, self.interactive = out, interactive

    def _say(self, text="", end="\n"):
        self.out.write(text + end)
        self.out.flush()

    def start(self, persona):
        kind = "在线咨询" if persona.channel == "chat" else "来电"
        self._say(f"【{kind}】{persona.title}（{persona.difficulty}，{persona.company}）")
        self._say("每行输入一句回复；输入（保持）保持通话，（挂机）挂机；输入结束即中止通话。\n")

    def caller(self, session):
        self._say("客户：", end="")
        for piece in session.caller_turn():
            self._say(piece, end="")
        t = session.turns[-1]
        self._say(f"    〔情绪 {t['mood']}/10〕")
        if self.interactive and not session.ended:
            self._say("客服> ", end="")

    def agent(self, text, index, findings):
        if not self.interactive:  # piped replies: echo them so the output reads as a dialogue
            self._say(f"客服：{text}")
        for f in findings:
            line = f"  {MARK.get(f['verdict'], '·')} {f['rule']}：{f.get('message', '')}"
            if f["verdict"] != "ok" and f.get("suggestion"):
                line += f"  建议：{f['suggestion']}"
            self._say(line)

    def end(self, reason, report):
        self._say(f"\n—— {END_TEXT.get(reason, reason)}（{reason}）——\n")
        try:
            from .grading.report import format_text
            self._say(format_text(report))
        except (ImportError, KeyError):
            self._say(json.dumps(report, ensure_ascii=False, indent=2))


def play_call(persona_id: str, backend: str = "scripted", model: str | None = None, base_url: str | None = None,
              jsonl: bool = False, seed: int | None = None, stdin=None, stdout=None, personas_dir=None,
              phrasebook=None) -> int:
    """Play one call: persona by id, replies from ``stdin`` one a line; returns the exit code (0)."""
    from .grading import load_phrasebook

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    persona = find_persona(persona_id, personas_dir)
    book = load_phrasebook(phrasebook)
    caller = get_backend(backend, model=model, base_url=base_url, seed=seed)
    view = _Json(stdout) if jsonl else _Text(stdout, interactive=hasattr(stdin, "isatty") and stdin.isatty())
    session = CallSession(persona, caller, book, seed=seed)
    view.start(persona)
    try:
        while not session.ended:
            if session.awaiting_caller:
                view.caller(session)
                if session.ended:
                    break
            line = stdin.readline()
            if not line:
                session.end("input_closed")
                break
            text = line.rstrip("\r\n")
            findings = session.agent_turn(text)
            view.agent(session.turns[-1]["text"], len(session.turns) - 1, findings)
    except KeyboardInterrupt:
        session.end("input_closed")
    view.end(session.end_reason.value, session.report())
    return 0
