"""`targeting compile`: show what one rule becomes in SQL, Polars or plain English."""
from __future__ import annotations

from pathlib import Path

import click

from targeting.api import compile_rule
from targeting.cli.common import reports_errors
from targeting.render.escape import plain


@click.command(name="compile")
@click.argument("rule")
@click.option("--to", "target", type=click.Choice(["sql", "polars", "english"]), default="sql",
              show_default=True, help="What to print.")
@click.option("--inline", is_flag=True,
              help="SQL with the values written in as literals, to read or run by hand.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="targeting.yaml to use (default: found from the working folder upwards).")
@reports_errors
def command(rule: str, target: str, inline: bool, config_path: Path | None) -> None:
    """Print RULE (a rule file, or an id in the configured folders) as SQL, Polars or English."""
    if inline and target != "sql":
        raise click.UsageError("--inline applies to --to sql only")
    click.echo(plain(compile_rule(rule, target, config_path, inline)))
