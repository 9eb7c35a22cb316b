"""The `targeting` command line: a click group; each command lives in its own module."""
from __future__ import annotations

import importlib

import click

# One module per command (or command group); each exposes `command`.
COMMAND_MODULES = [
    "data",
    "validate",
    "compile",
    "schema",
    "rule_test",
    "evaluate",
    "coverage",
    "candidates",
    "ledger",
    "fixtures",
    "gate",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="targeting")
def main() -> None:
    """Measure customs targeting rules and decide which to promote or retire."""


for _name in COMMAND_MODULES:
    _module = importlib.import_module(f"targeting.cli.{_name}")
    for _command in getattr(_module, "commands", [_module.command]):
        main.add_command(_command)
