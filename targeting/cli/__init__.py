"""The `targeting` command line: a click group; each command lives in its own module.

Command modules are imported only when their command runs (or help lists them), so a command
does not pay for the imports of every other one.
"""
from __future__ import annotations

import importlib

import click

# Command name -> the module under targeting/cli/ that defines it (as `command`, or in `commands`).
COMMANDS = {
    "test": "rule_test",
    "evaluate": "evaluate",
    "coverage": "coverage",
    "candidates": "candidates",
    "promote": "candidates",
    "retire": "candidates",
    "replay": "replay",
    "ledger": "ledger",
    "gate": "gate",
    "policy-change": "policy_change",
    "register": "register",
    "validate": "validate",
    "compile": "compile",
    "schema": "schema",
    "data": "data",
    "fixtures": "fixtures",
    "new": "new",
    "explain": "explain",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"targeting.cli.{COMMANDS[name]}")
        for command in getattr(module, "commands", [module.command]):
            if isinstance(command, click.Command) and command.name == name:
                return command
        raise RuntimeError(f"targeting.cli.{COMMANDS[name]} defines no command {name!r}")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="targeting")
def main() -> None:
    """Measure customs targeting rules and decide which to promote or retire."""
