"""Personas (every version kept) and assignments (who must take which call, by when)."""

from __future__ import annotations

from ..errors import StoreError
from .core import dumps, loads, now_iso


def _persona_row(row: dict | None) -> dict | None:
    if row is not None:
        row["scenarios"] = loads(row.get("scenarios"), [])
    return row


class CatalogMixin:
    def add_persona_version(self, persona_id: str, yaml_text: str, *, title: str,
                            difficulty: str | None = None, channel: str = "phone",
                            scenarios=(), created_by: int | None = None) -> tuple[int, bool]:
        """Store a persona's YAML as its next version; (version, created). Same text: no new version."""
        if not persona_id or not yaml_text:
            raise StoreError("a persona needs an id and its YAML text")
        with self.transaction():
            latest = self.one("SELECT version, yaml FROM personas WHERE persona_id = ? "
                              "ORDER BY version DESC LIMIT 1", (persona_id,))
            if latest and latest["yaml"] == yaml_text:
                return latest["version"], False
            version = (latest["version"] + 1) if latest else 1
            self.execute("INSERT INTO personas (persona_id, version, yaml, title, difficulty, channel, "
                         "scenarios, created_by, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (persona_id, version, yaml_text, title, difficulty, channel or "phone",
                          dumps(list(scenarios or ())), created_by, now_iso()))
        return version, True

    def persona_version_with_text(self, persona_id: str, yaml_text: str) -> int | None:
        """The newest stored version of this persona with exactly this text, if any."""
        row = self.one("SELECT max(version) AS v FROM personas WHERE persona_id = ? AND yaml = ?",
                       (persona_id, yaml_text))
        return row["v"] if row else None

    def get_persona(self, persona_id: str, version: int | None = None) -> dict | None:
        """One stored persona version (the latest when version is None)."""
        if version is None:
            row = self.one("SELECT * FROM personas WHERE persona_id = ? ORDER BY version DESC LIMIT 1",
                           (persona_id,))
        else:
            row = self.one("SELECT * FROM personas WHERE persona_id = ? AND version = ?",
                           (persona_id, version))
        return _persona_row(row)

    def list_personas(self) -> list[dict]:
        """The latest version of every persona, without the YAML text."""
        rows = self.rows(
            "SELECT p.persona_id, p.version, p.title, p.difficulty, p.channel, p.scenarios, p.created "
            "FROM personas p JOIN (SELECT persona_id, max(version) AS v FROM personas "
            "GROUP BY persona_id) m ON m.persona_id = p.persona_id AND m.v = p.version "
            "ORDER BY p.persona_id")
        return [_persona_row(r) for r in rows]

    def persona_versions(self, persona_id: str) -> list[dict]:
        return [_persona_row(r) for r in self.rows(
            "SELECT persona_id, version, title, difficulty, channel, scenarios, created_by, created "
            "FROM personas WHERE persona_id = ? ORDER BY version DESC", (persona_id,))]

    # -- assignments -------------------------------------------------------------
    def add_assignment(self, persona_id: str, version: int | None = None, *, mode: str = "practice",
                       pass_mark: float | None = None, trainee_id: int | None = None,
                       group_name: str | None = None, due: str | None = None,
                       created_by: int | None = None) -> int:
        """Assign a persona version to one trainee or a whole group; return the assignment id."""
        if mode not in ("practice", "exam"):
            raise StoreError(f"mode must be practice or exam, not {mode!r}")
        if trainee_id is None and not group_name:
            raise StoreError("an assignment needs a trainee or a group")
        persona = self.get_persona(persona_id, version)
        if persona is None:
            raise StoreError(f"persona {persona_id} (version {version or 'latest'}) is not in the store")
        with self.transaction():
            if group_name:
                self.ensure_group(group_name)
            cur = self.execute(
                "INSERT INTO assignments (persona_id, version, mode, pass_mark, trainee_id, group_name, "
                "due, created_by, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (persona_id, persona["version"], mode, pass_mark, trainee_id, group_name or None,
                 due, created_by, now_iso()))
            return cur.lastrowid

    def get_assignment(self, assignment_id) -> dict | None:
        return self.one("SELECT * FROM assignments WHERE id = ?", (assignment_id,))

    def assignments_for_user(self, user: dict) -> list[dict]:
        """A trainee's assignments (own or their group's), each with title, tries and best score.

        A call cut off part-way (status interrupted) counts as a try: an exam abandoned when it went
        badly cannot be started afresh (a supervisor can assign it again)."""
        return self.rows(
            "SELECT a.*, p.title, p.difficulty, "
            "(SELECT count(*) FROM sessions s WHERE s.assignment_id = a.id AND s.user_id = :uid "
            " AND s.status IN ('ended', 'interrupted')) AS tries, "
            "(SELECT max(score) FROM sessions s WHERE s.assignment_id = a.id AND s.user_id = :uid "
            " AND s.status = 'ended') AS best, "
            "(SELECT max(passed) FROM sessions s WHERE s.assignment_id = a.id AND s.user_id = :uid "
            " AND s.status = 'ended') AS passed "
            "FROM assignments a JOIN personas p ON p.persona_id = a.persona_id AND p.version = a.version "
            "WHERE a.trainee_id = :uid OR (a.group_name IS NOT NULL AND a.group_name = :grp) "
            "ORDER BY a.due IS NULL, a.due, a.id",
            {"uid": user["id"], "grp": user.get("group_name")})

    def assignment_for_user(self, assignment_id, user: dict) -> dict | None:
        for a in self.assignments_for_user(user):
            if str(a["id"]) == str(assignment_id):
                return a
        return None
