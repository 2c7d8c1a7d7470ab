"""The SQLite connection: pragmas, transactions, error translation, migrations on open.

One file (``DATA_DIR/peilian.db``) in WAL mode, so many readers and one writer at a time work
across web workers; every SQLite failure becomes a one-sentence ``StoreError``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils

from ..errors import StoreError
from .migrations import MIGRATIONS

DB_NAME = "peilian.db"
BUSY_TIMEOUT_MS = 5000


def default_data_dir() -> Path:
    """PEILIAN_DATA, else ./data (the same default as ``peilian serve``)."""
    return Path(os.environ.get("PEILIAN_DATA") or "data")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def translate(e: sqlite3.Error, path) -> StoreError:
    """Turn an SQLite error into one sentence a person can act on."""
    msg = str(e).lower()
    if "locked" in msg or "busy" in msg:
        return StoreError(f"the database {path} is busy (another writer holds it); please try again")
    if "full" in msg:
        return StoreError(f"the disk holding {path} is full; nothing was written")
    if "readonly" in msg or "read-only" in msg:
        return StoreError(f"the database {path} is read-only")
    if "not a database" in msg or "malformed" in msg:
        return StoreError(f"{path} is not a readable Peilian database ({e})")
    return StoreError(f"database error in {path}: {e}")


class StoreBase:
    """Connection + transactions. ``db`` is the sqlite_utils Database for callers that want it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as e:
            raise translate(e, self.path) from None
        self.journal_mode = mode
        self._depth = 0

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.conn.close()

    @contextlib.contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE … COMMIT: all or nothing; nested blocks join the outer one."""
        conn = self.db.conn
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        try:
            if conn.in_transaction:
                conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise translate(e, self.path) from None
        self._depth = 1
        try:
            yield self
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise translate(e, self.path) from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        """One statement; inside ``transaction()`` it joins it, outside it commits at once."""
        try:
            cur = self.db.conn.execute(sql, params)
            if not self._depth and self.db.conn.in_transaction:
                self.db.conn.execute("COMMIT")
            return cur
        except sqlite3.Error as e:
            if not self._depth and self.db.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.db.conn.execute("ROLLBACK")
            raise translate(e, self.path) from None

    def rows(self, sql: str, params=()) -> list[dict]:
        try:
            return list(self.db.query(sql, params))
        except sqlite3.Error as e:
            raise translate(e, self.path) from None

    def one(self, sql: str, params=()) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    # -- schema ---------------------------------------------------------------
    def schema_version(self) -> int:
        try:
            row = self.db.conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row else 0

    def migrate(self) -> int:
        """Apply the migrations this file lacks, each in its own transaction; return the version."""
        current = self.schema_version()
        if current > len(MIGRATIONS):
            raise StoreError(f"{self.path} has schema version {current}, newer than this program "
                             f"({len(MIGRATIONS)}); upgrade Peilian")
        for number, step in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.transaction():
                if self.schema_version() >= number:  # another process got there first
                    continue
                step(self)
                self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                             (str(number),))
        return len(MIGRATIONS)


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def loads(text, default=None):
    if text is None or text == "":
        return default
    return json.loads(text)


def epoch() -> float:
    return time.time()
