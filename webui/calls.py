"""Calls over HTTP: rebuild a ``CallSession`` from the store for every request, act, write back.

No call lives only in memory: each request loads ``sessions.state_json``, so any worker process
can serve the next step and a reload or reconnect resumes where the store says. A short lease in
the store (``Store.lock_call``) lets one request advance a call at a time; the request renews it
while it works (``Heartbeat``), so the lease of a killed worker runs out within CALL_LOCK_S.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time

from flask import abort, current_app

from simulator.errors import PeilianError
from simulator.session import CallSession

_cache: dict = {}
_cache_lock = threading.Lock()


def _cached(key, build):
    with _cache_lock:
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


def phrasebook():
    from simulator.grading import load_phrasebook
    return _cached(("book",), load_phrasebook)


def backend():
    """The caller backend named by CALLER_BACKEND ("auto": best installed model, else scripted).

    Built once per process. When a model backend cannot be built the scripted caller stands in,
    so trainees can still practise; the reason is logged once.
    """
    from simulator.callers import get_backend
    name = current_app.config["CALLER_BACKEND"]
    opts = current_app.config.get("CALLER_OPTIONS") or {}
    logger = current_app.logger

    def build():
        try:
            return get_backend(name, **opts)
        except PeilianError as e:
            logger.error("caller backend %s unavailable, using the scripted caller: %s", name, e)
            return get_backend("scripted")
    return _cached(("backend", name, tuple(sorted(opts.items()))), build)


def persona(store, persona_id: str, version: int):
    """A stored persona version, parsed once per process (keyed by its text, not just its id)."""
    from simulator.personas import parse_persona_text

    row = store.get_persona(persona_id, version)
    if row is None:
        abort(404)
    text = row["yaml"]
    return _cached(("persona", hashlib.sha256(text.encode()).hexdigest()),
                   lambda: parse_persona_text(text, source=f"{persona_id} v{version}"))


class LeaseLost(PeilianError):
    """This request's lease ran out and another request took the call: it must not write."""


class Heartbeat:
    """Renews a call's lease every third of CALL_LOCK_S while the request holding it works.

    The lease can then be short: when the worker dies the beat dies with it, and the call is free
    again within CALL_LOCK_S. A request still working after ``max_s`` (far beyond a model line's
    limits: 30 s prepare + 8 s line) is taken as hung and its lease is left to run out.
    """

    def __init__(self, data_dir: str, session_id: str, token: str, seconds: float, max_s: float):
        self.session_id, self.token, self.seconds = session_id, token, seconds
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(data_dir, max_s), daemon=True,
                                        name=f"lease-{session_id}")
        self._thread.start()

    def _run(self, data_dir: str, max_s: float) -> None:
        from simulator.store import open_store

        deadline, store = time.monotonic() + max_s, None
        try:
            while not self._stop.wait(self.seconds / 3):
                if time.monotonic() >= deadline:
                    return
                try:
                    store = store or open_store(data_dir, migrate=False)  # its own: sqlite is per thread
                    if not store.renew_call(self.session_id, self.token, self.seconds):
                        self.lost = True
                        return
                except PeilianError as e:  # a busy database: try again at the next beat
                    logging.getLogger(__name__).warning("lease of call %s not renewed: %s",
                                                        self.session_id, e)
        finally:
            if store is not None:
                store.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


_beats: dict[str, Heartbeat] = {}


class Collector:
    """A session sink that remembers each turn's findings until they are written."""

    def __init__(self):
        self.findings: dict[int, list] = {}

    def on_findings(self, index, findings):
        self.findings.setdefault(index, []).extend(findings)


def start(store, user: dict, persona_row: dict, mode: str, assignment_id=None) -> str:
    """Create a call in the store (state before the first caller line); return its id."""
    p = persona(store, persona_row["persona_id"], persona_row["version"])
    be, book = backend(), phrasebook()
    s = CallSession(p, be, book, mode=mode, agent_name=user["name"])
    return store.create_session(user["id"], p.id, persona_row["version"], mode=mode,
                                backend=getattr(be, "name", "scripted"), assignment_id=assignment_id,
                                state=s.state(), phrasebook_version=book.version)


def load(store, row: dict):
    """(CallSession, Collector) rebuilt from the stored state."""
    sink = Collector()
    p = persona(store, row["persona_id"], row["persona_version"])
    return CallSession(p, backend(), phrasebook(), state=row["state"], sink=sink), sink


def save(store, row: dict, s: CallSession, sink: Collector, stored_count: int,
         token: str | None = None) -> None:
    """Write the turns added since ``stored_count`` (each with its findings), then the report if over.

    With ``token``, first check in the same transaction that the lease is still this request's
    (renewing it), so a request whose lease ran out never writes over its successor: LeaseLost.
    """
    with store.transaction():
        if token is not None and not store.renew_call(row["id"], token, current_app.config["CALL_LOCK_S"]):
            raise LeaseLost(f"call {row['id']}: the lease ran out and another request took the call")
        for idx in range(stored_count, len(s.turns)):
            store.append_turn(row["id"], idx, s.turns[idx], sink.findings.get(idx, ()), s.state())
        if stored_count == len(s.turns):
            store.save_state(row["id"], s.state())
        if s.ended:
            report = s.report()
            if row.get("assignment_id"):
                a = store.get_assignment(row["assignment_id"])
                if a and a.get("pass_mark") is not None:
                    report["pass_mark"] = a["pass_mark"]
                    report["passed"] = bool(report["score"] >= a["pass_mark"] and not report.get("auto_fail"))
            store.finish_session(row["id"], report, end_reason=s.end_reason.value, state=s.state())


def try_lock(store, session_id: str, wait_s: float = 0.0) -> str | None:
    """The call's lease token, waiting up to ``wait_s`` for another request to finish; else None.

    A token comes with a heartbeat that renews the lease until ``unlock``.
    """
    cfg = current_app.config
    deadline = time.monotonic() + wait_s
    while True:
        token = store.lock_call(session_id, cfg["CALL_LOCK_S"])
        if token:
            beat = Heartbeat(cfg["DATA_DIR"], session_id, token, cfg["CALL_LOCK_S"], cfg["CALL_LOCK_MAX_S"])
            with _cache_lock:
                _beats[token] = beat
            return token
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def unlock(store, session_id: str, token: str) -> None:
    with _cache_lock:
        beat = _beats.pop(token, None)
    if beat is not None:
        beat.stop()
    with contextlib.suppress(PeilianError):
        store.unlock_call(session_id, token)


@contextlib.contextmanager
def locked(store, session_id: str, wait_s: float = 0.0):
    """Hold the call's lease for the block (yields its token); 409 when another request keeps it
    past ``wait_s``."""
    token = try_lock(store, session_id, wait_s)
    if not token:
        abort(409, description="这通电话正在处理上一条操作，请稍候。")
    try:
        yield token
    finally:
        unlock(store, session_id, token)
