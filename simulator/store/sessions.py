"""Calls: one row per call, one row per turn (written as it happens), findings, the final report.

Every write that belongs together is one transaction: a turn with its findings and the call's
resumable state; the report with its findings and score. A crash loses nothing already said.
"""

from __future__ import annotations

import logging
import secrets

from ..errors import StoreError
from .core import dumps, epoch, loads, now_iso

log = logging.getLogger(__name__)
FINDING_FIELDS = ("turn", "rule", "verdict", "severity", "dimension", "evidence", "message",
                  "suggestion")


def new_session_id() -> str:
    """Random and URL-safe: ids are not guessable, unlike integers."""
    return secrets.token_urlsafe(12)


def finding_to_db(f: dict) -> tuple:
    src = f.get("source") or {}
    return (tuple(f.get(k) for k in FINDING_FIELDS)
            + (dumps(f.get("span")) if f.get("span") is not None else None,
               src.get("seed"), src.get("clause"), dumps(list(f.get("tags") or []))))


def finding_from_db(row: dict) -> dict:
    """A stored finding in the DESIGN.md shape, plus its ``id``."""
    f = {k: row.get(k) for k in FINDING_FIELDS}
    f["id"] = row["id"]
    f["span"] = loads(row.get("span"))
    f["source"] = {"seed": row.get("source_seed"), "clause": row.get("source_clause")}
    f["tags"] = loads(row.get("tags"), [])
    return f


class SessionsMixin:
    def create_session(self, user_id: int, persona_id: str, persona_version: int, *, mode: str,
                       backend: str | None = None, assignment_id: int | None = None,
                       state: dict | None = None, phrasebook_version: str | None = None) -> str:
        """Start a call row; return its id."""
        if mode not in ("practice", "exam"):
            raise StoreError(f"mode must be practice or exam, not {mode!r}")
        sid, t = new_session_id(), epoch()
        self.execute(
            "INSERT INTO sessions (id, user_id, persona_id, persona_version, mode, assignment_id, backend, "
            "status, state_json, started, started_ts, updated_ts, phrasebook_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
            (sid, user_id, persona_id, persona_version, mode, assignment_id, backend,
             dumps(state) if state is not None else None, now_iso(), t, t, phrasebook_version))
        return sid

    def get_session(self, session_id: str) -> dict | None:
        """The call row with ``state`` and ``report`` decoded (None when unknown)."""
        row = self.one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if row is not None:
            row["state"] = loads(row.get("state_json"))
            row["report"] = loads(row.get("report_json"))
        return row

    def append_turn(self, session_id: str, idx: int, turn: dict, findings=(),
                    state: dict | None = None) -> bool:
        """Store turn ``idx`` with its findings and the new state, in one transaction.

        Idempotent: when turn ``idx`` is already stored nothing changes and False comes back.
        """
        with self.transaction():
            if self.one("SELECT 1 AS x FROM turns WHERE session_id = ? AND idx = ?", (session_id, idx)):
                return False
            self.execute(
                "INSERT INTO turns (session_id, idx, role, text, at, backend, mood, intent, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, idx, turn["role"], turn["text"], turn.get("at"), turn.get("backend"),
                 turn.get("mood"), turn.get("intent"), now_iso()))
            self.add_findings(session_id, findings)
            self.save_state(session_id, state)
        return True

    def add_findings(self, session_id: str, findings) -> None:
        with self.transaction():
            for f in findings or ():
                self.execute(
                    "INSERT INTO findings (session_id, turn, rule, verdict, severity, dimension, evidence, "
                    "message, suggestion, span, source_seed, source_clause, tags) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (session_id,) + finding_to_db(f))

    def save_state(self, session_id: str, state: dict | None) -> None:
        """Record the call's resumable state (``CallSession.state()``) and that it is alive."""
        if state is None:
            self.execute("UPDATE sessions SET updated_ts = ? WHERE id = ?", (epoch(), session_id))
        else:
            self.execute("UPDATE sessions SET state_json = ?, updated_ts = ? WHERE id = ?",
                         (dumps(state), epoch(), session_id))

    def finish_session(self, session_id: str, report: dict, *, end_reason: str,
                       state: dict | None = None, status: str = "ended") -> None:
        """Write the final report, its findings and score in one transaction (never half a report)."""
        with self.transaction():
            row = self.one("SELECT status FROM sessions WHERE id = ?", (session_id,))
            if row is None:
                raise StoreError(f"call {session_id} is not in the store")
            self.execute("DELETE FROM findings WHERE session_id = ?", (session_id,))
            self.add_findings(session_id, report.get("findings") or ())
            book = report.get("phrasebook") or {}
            self.execute(
                "UPDATE sessions SET status = ?, end_reason = ?, score = ?, passed = ?, auto_fail = ?, "
                "report_json = ?, ended = ?, updated_ts = ?, lock_token = NULL, lock_until = NULL, "
                "state_json = coalesce(?, state_json), "
                "phrasebook_version = coalesce(?, phrasebook_version) WHERE id = ?",
                (status, end_reason, report.get("score"), _flag(report.get("passed")),
                 _flag(report.get("auto_fail")), dumps(report), now_iso(), epoch(),
                 dumps(state) if state is not None else None, book.get("version"), session_id))

    def update_score(self, session_id: str, score, passed, auto_fail=None) -> None:
        """After a supervisor override: the new score (the stored report keeps the original)."""
        self.execute("UPDATE sessions SET score = ?, passed = ?, auto_fail = coalesce(?, auto_fail) "
                     "WHERE id = ?", (score, _flag(passed), _flag(auto_fail), session_id))

    def turns(self, session_id: str) -> list[dict]:
        return self.rows("SELECT idx, role, text, at, backend, mood, intent FROM turns "
                         "WHERE session_id = ? ORDER BY idx", (session_id,))

    def findings(self, session_id: str) -> list[dict]:
        """Findings in report shape, each with ``id`` and ``override`` (the latest, or None)."""
        out = []
        for row in self.rows(
                "SELECT f.*, o.verdict AS o_verdict, o.comment AS o_comment, o.at AS o_at, "
                "u.name AS o_by_name FROM findings f "
                "LEFT JOIN overrides o ON o.id = (SELECT max(id) FROM overrides WHERE finding_id = f.id) "
                "LEFT JOIN users u ON u.id = o.by "
                "WHERE f.session_id = ? ORDER BY coalesce(f.turn, 1e9), f.id", (session_id,)):
            f = finding_from_db(row)
            f["override"] = ({"verdict": row["o_verdict"], "comment": row["o_comment"], "at": row["o_at"],
                              "by_name": row["o_by_name"]} if row["o_verdict"] is not None else None)
            out.append(f)
        return out

    def comments(self, session_id: str) -> list[dict]:
        return self.rows("SELECT c.id, c.text, c.at, u.name AS author_name FROM comments c "
                         "LEFT JOIN users u ON u.id = c.author WHERE c.session_id = ? ORDER BY c.id",
                         (session_id,))

    def sessions_for_user(self, user_id: int, *, status: str | None = None,
                          limit: int | None = None) -> list[dict]:
        """A trainee's calls, newest first, with the persona title."""
        sql = ("SELECT s.id, s.persona_id, s.persona_version, s.mode, s.assignment_id, s.status, "
               "s.end_reason, s.score, s.passed, s.auto_fail, s.started, s.ended, p.title "
               "FROM sessions s LEFT JOIN personas p ON p.persona_id = s.persona_id "
               "AND p.version = s.persona_version WHERE s.user_id = ?")
        params: list = [user_id]
        if status:
            sql += " AND s.status = ?"
            params.append(status)
        sql += " ORDER BY s.started_ts DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.rows(sql, params)

    # -- one writer per call, across worker processes -------------------------------
    def lock_call(self, session_id: str, seconds: float = 15) -> str | None:
        """Take a short lease on an active call; a token, or None when someone else holds it."""
        token, t = secrets.token_hex(8), epoch()
        cur = self.execute("UPDATE sessions SET lock_token = ?, lock_until = ? WHERE id = ? AND "
                           "status = 'active' AND (lock_token IS NULL OR lock_until < ?)",
                           (token, t + seconds, session_id, t))
        return token if cur.rowcount == 1 else None

    def renew_call(self, session_id: str, token: str, seconds: float) -> bool:
        """Extend our own lease by ``seconds`` from now; False when it is no longer ours (it ran out
        and another request took it, or the call ended), so the holder must not write."""
        cur = self.execute("UPDATE sessions SET lock_until = ? WHERE id = ? AND lock_token = ? "
                           "AND status = 'active'", (epoch() + seconds, session_id, token))
        return cur.rowcount == 1

    def unlock_call(self, session_id: str, token: str) -> None:
        self.execute("UPDATE sessions SET lock_token = NULL, lock_until = NULL "
                     "WHERE id = ? AND lock_token = ?", (session_id, token))

    def recover_interrupted(self, stale_after_s: float = 6 * 3600, book=None) -> list[str]:
        """Mark active calls untouched for ``stale_after_s`` as interrupted; newer ones stay resumable.

        Each gets a report graded on its stored turns (``session.interrupted_report``), so a supervisor
        can still review it; interrupted calls left without one by an earlier version get it too.
        ``book``: the phrasebook (loaded here when None and something needs grading).
        """
        cutoff = epoch() - stale_after_s
        stale = [r["id"] for r in self.rows(
            "SELECT id FROM sessions WHERE status = 'active' AND updated_ts < ? ORDER BY started_ts",
            (cutoff,))]
        unreported = [r["id"] for r in self.rows(
            "SELECT s.id FROM sessions s WHERE s.status = 'interrupted' AND s.report_json IS NULL "
            "AND EXISTS (SELECT 1 FROM turns t WHERE t.session_id = s.id AND t.role = 'agent')")]
        for sid in stale + unreported:
            book, report = self._grade_interrupted(sid, book)  # outside the write lock: reads only
            with self.transaction():
                row = self.one("SELECT status, updated_ts, report_json FROM sessions WHERE id = ?", (sid,))
                if row is None or not ((row["status"] == "active" and row["updated_ts"] < cutoff)
                                       or (row["status"] == "interrupted" and row["report_json"] is None)):
                    continue  # a worker advanced it meanwhile, or it was graded already
                if report is not None:
                    self.finish_session(sid, report, end_reason="interrupted", status="interrupted")
                else:
                    self.execute("UPDATE sessions SET status = 'interrupted', end_reason = 'interrupted', "
                                 "ended = coalesce(ended, ?), lock_token = NULL, lock_until = NULL "
                                 "WHERE id = ?", (now_iso(), sid))
        return stale

    def _grade_interrupted(self, session_id: str, book):
        """(book, report or None): None when the trainee never spoke or the call cannot be graded."""
        row = self.one("SELECT s.persona_id, s.persona_version, p.yaml, a.pass_mark FROM sessions s "
                       "LEFT JOIN personas p ON p.persona_id = s.persona_id AND p.version = s.persona_version "
                       "LEFT JOIN assignments a ON a.id = s.assignment_id WHERE s.id = ?", (session_id,))
        turns = self.turns(session_id)
        if row is None or row["yaml"] is None or not any(t["role"] == "agent" for t in turns):
            return book, None
        try:  # a call that cannot be graded must not keep the server from starting
            from ..grading import load_phrasebook
            from ..personas import parse_persona_text
            from ..session import interrupted_report
            persona = parse_persona_text(row["yaml"], source=f"{row['persona_id']} v{row['persona_version']}")
            book = book or load_phrasebook()
            report = interrupted_report(persona, turns, book)
        except Exception as e:  # noqa: BLE001
            log.warning("interrupted call %s kept without a report: %s", session_id, e)
            return book, None
        if report is not None and row["pass_mark"] is not None:
            report["pass_mark"] = row["pass_mark"]
        return book, report

def _flag(v):
    return None if v is None else int(bool(v))
