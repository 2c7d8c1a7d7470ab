"""A trainee's history for the progress page: scores per dimension over time, rules most broken."""

from __future__ import annotations

from .core import loads


class ProgressMixin:
    def dimension_history(self, user_id: int, limit: int = 50) -> list[dict]:
        """Ended calls, oldest first: {id, started, score, dims: {dimension: percent}} (as reviewed)."""
        rows = self.rows("SELECT id, started, score, report_json FROM sessions WHERE user_id = ? "
                         "AND status = 'ended' AND report_json IS NOT NULL "
                         "ORDER BY started_ts DESC LIMIT ?", (user_id, limit))
        out = []
        for r in reversed(rows):
            report = loads(r["report_json"], {}) or {}
            dims = (report.get("revised") or {}).get("dimensions") or report.get("dimensions") or {}
            pct = {name: round(100.0 * d["score"] / d["max"], 1) for name, d in dims.items()
                   if isinstance(d, dict) and d.get("max")}
            out.append({"id": r["id"], "started": r["started"], "score": r["score"], "dims": pct})
        return out

    def rule_counts_for_user(self, user_id: int, limit: int = 10) -> list[dict]:
        """The rules this trainee broke most often (violations and omissions, dismissed ones left out)."""
        return self.rows(
            "SELECT f.rule, count(*) AS times, count(DISTINCT f.session_id) AS calls, "
            "max(f.message) AS message, max(f.suggestion) AS suggestion "
            "FROM findings f JOIN sessions s ON s.id = f.session_id "
            "WHERE s.user_id = ? AND s.status = 'ended' AND f.verdict != 'ok' "
            "AND NOT EXISTS (SELECT 1 FROM overrides o WHERE o.finding_id = f.id "
            "  AND o.verdict = 'dismissed' AND o.id = (SELECT max(id) FROM overrides WHERE finding_id = f.id)) "
            "GROUP BY f.rule ORDER BY times DESC, f.rule LIMIT ?", (user_id, limit))
