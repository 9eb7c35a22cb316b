"""`targeting ledger verify|show`: check and list the audit ledger of promotions and overrides."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from targeting.cli.common import Command, config_option, reports_errors
from targeting.data.config import display_path, load_config
from targeting.decide import ledger
from targeting.render.formats import to_json
from targeting.render.ledger import ledger_table
from targeting.render.terminal import console


def file_option(func: Command) -> Command:
    return click.option("--file", "file_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Ledger file to use (default: ledger.jsonl next to targeting.yaml)."
                        )(func)


def ledger_path(config_path: Path | None, file_path: Path | None) -> Path:
    """--file if given, else ledger.jsonl in the project root."""
    if file_path is not None:
        return file_path
    return load_config(config_path).root / ledger.LEDGER_NAME


@click.group(name="ledger")
def command() -> None:
    """The audit ledger: every promotion, retirement and override, hash-chained."""


@command.command(name="verify")
@config_option
@file_option
@click.option("--anchor", metavar="HASH",
              help="A head recorded earlier (`ledger show --head`); fail if it is no longer in "
                   "the chain, which catches entries removed from the end.")
@reports_errors
def verify(config_path: Path | None, file_path: Path | None, anchor: str | None) -> None:
    """Check the hash chain; exit 1 naming the first edited, removed or reordered entry."""
    path = ledger_path(config_path, file_path)
    result = ledger.verify(path, anchor=anchor)
    if not result.ok:
        click.echo(f"error: {result.problem}", err=True)
        sys.exit(1)
    click.echo(f"{display_path(path)}: {result.entries} entries, chain intact, head {result.head}")


@command.command(name="show")
@config_option
@file_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--head", "head_only", is_flag=True,
              help="Print only the head hash (after verifying the chain), to record elsewhere.")
@reports_errors
def show(config_path: Path | None, file_path: Path | None, fmt: str, head_only: bool) -> None:
    """List the ledger's entries, oldest first."""
    path = ledger_path(config_path, file_path)
    if head_only:
        click.echo(ledger.head(path))
        return
    entries = ledger.read(path)
    if fmt == "json":
        click.echo(to_json({"ledger": str(path), "entries": [e.as_dict() for e in entries]}))
    elif not entries:
        click.echo(f"{display_path(path)}: no entries", err=True)
    else:
        console().print(ledger_table(entries))
