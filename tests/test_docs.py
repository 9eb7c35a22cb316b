"""Every command has help text and a README entry; every documented doc file exists."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from targeting.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "targeting"):
    context = click.Context(group)
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")


COMMANDS = list(_commands(main))


@pytest.mark.parametrize("name, command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_help_and_a_readme_entry(name, command):
    assert (command.help or "").strip(), f"{name} has no help text"
    words = name.split()[1:]
    assert re.search(r"targeting\s+" + r"\s+".join(map(re.escape, words)) + r"\b", README) or \
        (len(words) == 2 and f"`targeting {words[0]}" in README and words[1] in README), \
        f"{name} is not in README.md"


def test_linked_docs_exist():
    for link in re.findall(r"\]\((docs/[^)]+)\)", README):
        assert (ROOT / link).is_file(), link
