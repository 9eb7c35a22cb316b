"""`targeting schema`: print the JSON Schema of a rule file, for editors."""
from __future__ import annotations

import click

from targeting.rules.schema import schema_text


@click.command(name="schema")
def command() -> None:
    """Print the rule-file JSON Schema (save it and point yaml-language-server at it)."""
    click.echo(schema_text(), nl=False)
