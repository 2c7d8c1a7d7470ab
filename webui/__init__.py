"""The Peilian web app: ``create_app(config=None)``, one blueprint per kind of user.

Defaults first (data dir, secret, limits, cookie flags), then ``config``; no app at import time,
so every test gets a fresh one. Blueprint modules expose ``bp``: ``auth``, ``trainee``,
``trainer``, ``supervisor`` and ``admin`` (accounts).
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_PERSONAS = PACKAGE_DIR.parent / "personas"


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        DATA_DIR=os.environ.get("PEILIAN_DATA") or "data",
        SECRET_KEY=os.environ.get("PEILIAN_SECRET") or None,
        MAX_CONTENT_LENGTH=256 * 1024,
        CALLER_BACKEND=os.environ.get("PEILIAN_CALLER_BACKEND") or os.environ.get("PEILIAN_BACKEND") or "auto",
        CALLER_OPTIONS={k: v for k, v in (("base_url", os.environ.get("PEILIAN_CALLER_BASE_URL")),
                                          ("model", os.environ.get("PEILIAN_CALLER_MODEL"))) if v},
        PERSONAS_DIR=str(SHIPPED_PERSONAS),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("PEILIAN_HTTPS") == "1",
        SESSION_COOKIE_NAME="peilian_session",
        LOGIN_MAX_FAILURES=5,               # per name and address, in LOGIN_WINDOW_S
        LOGIN_MAX_FAILURES_PER_ADDRESS=30,  # per address, whatever the names tried
        LOGIN_WINDOW_S=300,
        CALL_LOCK_S=15,       # the lease on a call while one request advances it (renewed while it works)
        CALL_LOCK_MAX_S=120,  # renewed no longer than this: a hung request lets the call go
        CALL_WAIT_S=5,        # how long a request waits for another one's lease
    )
    if config:
        app.config.update(config)
    app.config["DATA_DIR"] = str(Path(app.config["DATA_DIR"]))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _persisted_secret(Path(app.config["DATA_DIR"]))

    from . import admin, auth, calls, db, errors, supervisor, trainee, trainer
    db.init_app(app)
    errors.init_app(app)
    for blueprint in (auth.bp, trainee.bp, trainer.bp, supervisor.bp, admin.bp):
        app.register_blueprint(blueprint)
    # Parse the phrasebook now (once per process, ~0.35 s), not inside a trainee's first reply.
    calls.phrasebook()
    return app


def _persisted_secret(data_dir: Path) -> str:
    """A random key kept in DATA_DIR/secret_key (0600), so logins survive a restart."""
    path = data_dir / "secret_key"
    try:
        try:
            return path.read_text().strip() or _write_secret(path)
        except FileNotFoundError:
            return _write_secret(path)
    except OSError as e:  # the store reports the unusable data dir clearly; logins just won't survive
        logging.getLogger(__name__).warning("cannot keep the session key in %s (%s)", path, e.strerror)
        return secrets.token_hex(32)


def _write_secret(path: Path) -> str:
    """Create the key file atomically: when two workers start at once, both end up with the same key.

    (With a plain create-or-truncate each wrote its own key, so a login made on one worker was
    invalid on the other: seen as a rare failure of tests/test_web_workers.py.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)          # fails if another worker got there first: then its key wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()
