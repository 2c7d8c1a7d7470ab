"""The trainer's preview call: the draft persona played by the scripted caller, nothing stored.

Between requests the call lives in a signed token the page sends back (the draft YAML and
``CallSession.state()``), so any worker can take the next reply and nothing lands in the store.
"""

from __future__ import annotations

import functools
import re

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

MAX_AGE_S = 2 * 3600
SALT = "peilian-trainer-preview"


@functools.lru_cache(maxsize=1)
def phrasebook():
    from simulator.grading import load_phrasebook
    return load_phrasebook()


@functools.lru_cache(maxsize=64)
def area_title(path: str) -> str:
    """A phrasebook file's area name: its first comment up to the colon (``# 结束语: …``)."""
    from pathlib import Path
    first = ""
    for candidate in (Path(path), Path(__file__).resolve().parents[2] / path):  # paths may be repo-relative
        try:
            with open(candidate, encoding="utf-8") as f:
                first = f.readline()
            break
        except OSError:
            continue
    m = re.match(r"#\s*([^:：]+)", first)
    return m.group(1).strip() if m else Path(path).stem


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _session(persona, state=None):
    from simulator.callers import get_backend
    from simulator.session import CallSession
    return CallSession(persona, get_backend("scripted"), phrasebook(), mode="practice", state=state)


def _caller_line(s) -> str:
    return "".join(s.caller_turn())


def _pack(yaml_text: str, s) -> str:
    return _signer().dumps({"yaml": yaml_text, "state": s.state()})


def _view(s, token: str, caller: str | None, findings=None) -> dict:
    out = {"ok": True, "token": token, "caller": caller, "mood": s.mood, "ended": bool(s.ended),
           "end_reason": getattr(s.end_reason, "value", s.end_reason) if s.ended else None,
           "findings": [_finding(f) for f in findings or ()]}
    if s.ended:
        report = s.report()
        out["report"] = {"score": report.get("score"), "passed": report.get("passed")}
    return out


def _finding(f: dict) -> dict:
    keep = ("rule", "verdict", "severity", "dimension", "evidence", "message", "suggestion")
    return dict({k: f.get(k) for k in keep}, title=rule_titles().get(f.get("rule"), f.get("rule")))


def rule_titles() -> dict[str, str]:
    """Rule id -> its short Chinese title (what an ``ok`` finding shows: the step done right)."""
    try:
        return {r.id: r.title for r in phrasebook().rules}
    except Exception:  # noqa: BLE001 - a page must still render without the book
        return {}


# The five seed standards (see ../shared/seeds/README.md), by file name, for people.
SEED_NAMES = {
    "000_38188eab8a3aad00.txt": "客服语录表与电话服务规范",
    "001_7a40c701cdd24f13.txt": "在线客服标准用语",
    "002_dbf4bcf9b196fba5.txt": "中国电信 10000 服务规范",
    "003_ce7e8b6d8796a706.txt": "呼叫中心现场管理规定",
    "004_f19f12e0c170e4e4.txt": "物业前台服务手册",
}


def start(persona, yaml_text: str) -> dict:
    """Begin a preview call; the caller's first line comes back with the token."""
    s = _session(persona)
    caller = _caller_line(s)
    return _view(s, _pack(yaml_text, s), caller)


def reply(token: str, text: str, parse) -> dict | None:
    """Grade the trainer's reply and play the caller's next line; None when the token is bad."""
    try:
        data = _signer().loads(token, max_age=MAX_AGE_S)
    except BadSignature:
        return None
    persona = parse(data["yaml"])
    s = _session(persona, state=data["state"])
    if s.ended:
        return _view(s, token, None)
    findings = s.agent_turn(text)
    caller = None if s.ended else _caller_line(s)
    return _view(s, _pack(data["yaml"], s), caller, findings)
