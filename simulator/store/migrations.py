"""Schema migrations, in code: ``MIGRATIONS[n-1]`` takes a file from version n-1 to n.

Never edit a released step; append a new one. Each runs inside one transaction together with
the ``meta.schema_version`` bump, so a crash mid-migration leaves the previous version intact.
"""

from __future__ import annotations

V1 = [
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)""",
    """CREATE TABLE groups (name TEXT PRIMARY KEY, created TEXT NOT NULL)""",
    """CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        roles TEXT NOT NULL,
        group_name TEXT REFERENCES groups(name),
        created TEXT NOT NULL)""",
    """CREATE TABLE personas (
        persona_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        yaml TEXT NOT NULL,
        title TEXT NOT NULL,
        difficulty TEXT,
        channel TEXT NOT NULL DEFAULT 'phone',
        scenarios TEXT NOT NULL DEFAULT '[]',
        created_by INTEGER REFERENCES users(id),
        created TEXT NOT NULL,
        PRIMARY KEY (persona_id, version))""",
    """CREATE TABLE assignments (
        id INTEGER PRIMARY KEY,
        persona_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('practice', 'exam')),
        pass_mark REAL,
        trainee_id INTEGER REFERENCES users(id),
        group_name TEXT REFERENCES groups(name),
        due TEXT,
        created_by INTEGER REFERENCES users(id),
        created TEXT NOT NULL,
        FOREIGN KEY (persona_id, version) REFERENCES personas(persona_id, version),
        CHECK (trainee_id IS NOT NULL OR group_name IS NOT NULL))""",
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        persona_id TEXT NOT NULL,
        persona_version INTEGER NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('practice', 'exam')),
        assignment_id INTEGER REFERENCES assignments(id),
        backend TEXT,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended', 'interrupted')),
        end_reason TEXT,
        state_json TEXT,
        score REAL,
        passed INTEGER,
        auto_fail INTEGER,
        report_json TEXT,
        started TEXT NOT NULL,
        started_ts REAL NOT NULL,
        ended TEXT,
        updated_ts REAL NOT NULL,
        phrasebook_version TEXT,
        FOREIGN KEY (persona_id, persona_version) REFERENCES personas(persona_id, version))""",
    """CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('caller', 'agent')),
        text TEXT NOT NULL,
        at REAL,
        backend TEXT,
        mood INTEGER,
        intent TEXT,
        created TEXT NOT NULL,
        UNIQUE (session_id, idx))""",
    """CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        turn INTEGER,
        rule TEXT NOT NULL,
        verdict TEXT NOT NULL,
        severity TEXT,
        dimension TEXT,
        evidence TEXT,
        span TEXT,
        message TEXT,
        suggestion TEXT,
        source_seed TEXT,
        source_clause TEXT,
        tags TEXT NOT NULL DEFAULT '[]')""",
    """CREATE TABLE overrides (
        id INTEGER PRIMARY KEY,
        finding_id INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
        verdict TEXT NOT NULL,
        comment TEXT,
        by INTEGER REFERENCES users(id),
        at TEXT NOT NULL)""",
    """CREATE TABLE comments (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        author INTEGER REFERENCES users(id),
        text TEXT NOT NULL,
        at TEXT NOT NULL)""",
]

V2 = [
    # login rate limiting must work across worker processes, so it lives here
    """CREATE TABLE login_failures (key TEXT NOT NULL, at REAL NOT NULL)""",
    """CREATE INDEX login_failures_key ON login_failures (key, at)""",
    # a short lease on a call, so two workers never advance the same call at once
    """ALTER TABLE sessions ADD COLUMN lock_token TEXT""",
    """ALTER TABLE sessions ADD COLUMN lock_until REAL""",
    """CREATE INDEX sessions_user ON sessions (user_id, started_ts)""",
    """CREATE INDEX findings_session ON findings (session_id, turn)""",
    """CREATE INDEX overrides_finding ON overrides (finding_id)""",
    """CREATE INDEX comments_session ON comments (session_id)""",
]


V3 = [
    # accounts managed in the web app: an admin can disable one; the admin page shows the last login
    """ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0""",
    """ALTER TABLE users ADD COLUMN last_login TEXT""",
]


def _run(statements):
    def step(store):
        for sql in statements:
            store.execute(sql)
    return step


MIGRATIONS = [_run(V1), _run(V2), _run(V3)]
