"""The store: one SQLite file (``DATA_DIR/peilian.db``) via sqlite-utils; the only place SQL lives.

``open_store(data_dir)`` creates the directory and file when needed and applies migrations.
Functions for other areas may live in sibling modules taking a ``Store`` (``store.db`` is the
sqlite_utils Database; ``store.transaction()`` is BEGIN IMMEDIATE … COMMIT).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreError
from .catalog import CatalogMixin
from .core import DB_NAME, StoreBase, default_data_dir
from .progress import ProgressMixin
from .sessions import SessionsMixin, finding_from_db
from .users import ROLES, DuplicateUser, UsersMixin, roles_of

__all__ = ["open_store", "Store", "StoreError", "DuplicateUser", "ROLES", "roles_of",
           "finding_from_db", "DB_NAME"]


class Store(UsersMixin, CatalogMixin, SessionsMixin, ProgressMixin, StoreBase):
    """Users, personas, assignments, calls, turns, findings, overrides, comments."""


def open_store(data_dir=None, *, migrate: bool = True) -> Store:
    """Open (and create, and migrate) ``DATA_DIR/peilian.db``; None means PEILIAN_DATA or ./data."""
    path = Path(data_dir) if data_dir else default_data_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create the data directory {path}: {e.strerror}") from None
    store = Store(path / DB_NAME)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store
