"""First start and every start: migrate, import the shipped personas, demo accounts, admin hint.

``prepare(app, demo=False)`` returns the lines ``peilian serve`` prints.
"""

from __future__ import annotations

from pathlib import Path

from simulator.errors import PersonaError
from simulator.store import DuplicateUser, Store, open_store

DEMO_USERS = (("demo-trainee", "trainee", "演示组"), ("demo-trainer", "trainer", None),
              ("demo-supervisor", "supervisor", None))


def import_personas(store: Store, directory) -> tuple[int, int]:
    """Store each ``*.yaml`` persona in ``directory`` whose text was never stored; (new, unchanged).

    A shipped file the store has seen before adds nothing, so a trainer's edit made in the web app
    stays the latest version across restarts; a changed shipped file becomes a new version.

    A broken file raises PersonaError naming it; nothing from it is stored.
    """
    from simulator.personas import parse_persona_text

    d = Path(directory)
    if not d.is_dir():
        return 0, 0
    new = same = 0
    for f in sorted(d.glob("*.yaml")):
        text = f.read_text(encoding="utf-8")
        p = parse_persona_text(text, source=str(f))
        if store.persona_version_with_text(p.id, text) is not None:
            same += 1  # already stored; a trainer's later edit stays the latest version
            continue
        store.add_persona_version(p.id, text, title=p.title, difficulty=p.difficulty,
                                  channel=p.channel, scenarios=p.scenarios)
        new += 1
    return new, same


def prepare(app, demo: bool = False) -> list[str]:
    """Bring the data dir up to date; say what was done, in lines for the terminal."""
    data_dir = app.config["DATA_DIR"]
    store = open_store(data_dir)
    try:
        lines = [f"data: {Path(data_dir).resolve() / 'peilian.db'} (schema version {store.schema_version()})"]
        try:
            new, same = import_personas(store, app.config["PERSONAS_DIR"])
        except PersonaError as e:
            lines.append(f"warning: shipped personas not imported: {e}")
        else:
            lines.append(f"personas: {new} new version(s) imported, {same} unchanged")
        from .calls import phrasebook
        stale = store.recover_interrupted(book=phrasebook())  # each graded on the turns it has
        if stale:
            lines.append(f"calls: {len(stale)} unfinished call(s) from an earlier run marked interrupted")
        if demo:
            for name, role, group in DEMO_USERS:
                try:
                    password = store.add_user(name, role=role, group=group)
                    lines.append(f"demo account {name} ({role}) created; password: {password}")
                except DuplicateUser:
                    lines.append(f"demo account {name} ({role}) already exists (password unchanged)")
        with app.app_context():  # load the caller model now, not on the first trainee's call
            from .calls import backend
            voice = backend()
            name = getattr(voice, "name", "scripted")
        # which weights on which device, or which server: what an operator checks first
        where = ", ".join(str(x) for x in (getattr(voice, "path", None), getattr(voice, "device", None),
                                            getattr(voice, "url", None)) if x)
        wanted = app.config["CALLER_BACKEND"]
        lines.append(f"caller: {name}" + (f" ({where})" if where else "") + (" (no model installed: peilian model install)"
                                           if wanted == "auto" and name == "scripted" else
                                           f" (backend {wanted} unavailable, see the log)"
                                           if wanted not in ("auto", name) else ""))
        if not store.has_role("admin"):
            lines.append("no admin account yet; create one with: peilian users add NAME --role admin")
    finally:
        store.close()
    return lines
