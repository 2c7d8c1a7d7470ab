"""The README documents every command (sqlite-utils' test_docs pattern)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import cli

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        path = prefix + (name,)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)
        else:
            yield path


COMMANDS = list(_commands(cli))


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_command_has_help(path):
    result = CliRunner().invoke(cli, list(path) + ["--help"])
    assert result.exit_code == 0, result.output
    cmd = cli
    for name in path:
        cmd = cmd.commands[name]
    assert cmd.help and cmd.help.strip(), f"peilian {' '.join(path)} has no help text"


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_command_in_readme(path):
    assert "peilian " + " ".join(path) in README, f"README has no example of `peilian {' '.join(path)}`"


def test_quick_start_is_two_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    lines = [ln for ln in block.strip().splitlines() if ln.strip()]
    assert [ln.split("#")[0].strip() for ln in lines] == ["make run", "make test"]
