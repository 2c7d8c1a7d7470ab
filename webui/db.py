"""The store for one request: opened lazily on ``g``, closed on teardown (the flaskr pattern)."""

from __future__ import annotations

import click
from flask import current_app, g
from flask.cli import with_appcontext

from simulator.store import Store, open_store


_migrated: set[str] = set()  # data dirs this process has already brought up to date


def get_store() -> Store:
    if "store" not in g:
        data_dir = current_app.config["DATA_DIR"]
        g.store = open_store(data_dir, migrate=data_dir not in _migrated)
        _migrated.add(data_dir)
    return g.store


def close_store(_exc=None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


@click.command("prepare")
@click.option("--demo", is_flag=True, help="Also create the demo accounts.")
@with_appcontext
def prepare_command(demo):
    """Migrate the database and import the shipped personas."""
    from .setup import prepare

    for line in prepare(current_app._get_current_object(), demo=demo):
        click.echo(line)


def init_app(app) -> None:
    app.teardown_appcontext(close_store)
    app.cli.add_command(prepare_command)
