"""Trainer-page queries the store's mixins lack: every assignment, deleting one, version history.

(Persona versions themselves are saved with ``Store.add_persona_version``, never overwritten.)
"""

from __future__ import annotations


def versions_with_use(store, persona_id: str) -> list[dict]:
    """Every version of a persona, newest first, with its author and how many calls used it."""
    return store.rows(
        """SELECT p.version, p.title, p.created, u.name AS author,
                  (SELECT COUNT(*) FROM sessions s WHERE s.persona_id = p.persona_id
                     AND s.persona_version = p.version) AS sessions
           FROM personas p LEFT JOIN users u ON u.id = p.created_by
           WHERE p.persona_id = ? ORDER BY p.version DESC""", (persona_id,))


def list_assignments(store) -> list[dict]:
    """All assignments, newest first, with persona title, trainee name and finished calls."""
    return store.rows(
        """SELECT a.*, p.title, u.name AS trainee, c.name AS author,
                  (SELECT COUNT(*) FROM sessions s WHERE s.assignment_id = a.id
                     AND s.status = 'ended') AS done
           FROM assignments a
           LEFT JOIN personas p ON p.persona_id = a.persona_id AND p.version = a.version
           LEFT JOIN users u ON u.id = a.trainee_id
           LEFT JOIN users c ON c.id = a.created_by
           ORDER BY a.created DESC, a.id DESC""")


def delete_assignment(store, assignment_id: int) -> bool:
    """Delete an assignment; calls already played under it stay (their link is cleared)."""
    with store.transaction():
        if store.one("SELECT id FROM assignments WHERE id = ?", (assignment_id,)) is None:
            return False
        store.execute("UPDATE sessions SET assignment_id = NULL WHERE assignment_id = ?",
                      (assignment_id,))
        store.execute("DELETE FROM assignments WHERE id = ?", (assignment_id,))
    return True
