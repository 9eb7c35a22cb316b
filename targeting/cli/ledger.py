"""`targeting ledger verify|show|recover`: check, list and repair the audit ledger."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from targeting.cli.common import Command, config_option, reports_errors
from targeting.data.config import Config, display_path, find_config, load_config
from targeting.decide import ledger, signing
from targeting.decide.promotion import disagreements
from targeting.decide.transaction import INTENT_NAME, pending, project_lock
from targeting.errors import ConfigError
from targeting.render.escape import plain
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


def _config(config_path: Path | None, file_path: Path | None) -> Config | None:
    """The project whose ledger this is: --config, else the one found from here, when --file
    is not given or names that project's ledger."""
    try:
        config = load_config(config_path or find_config())
    except ConfigError:
        if config_path is not None or file_path is None:
            raise
        return None
    if file_path is not None and Path(file_path).resolve() != (config.root / ledger.LEDGER_NAME).resolve():
        return None
    return config


@click.group(name="ledger")
def command() -> None:
    """The audit ledger: every promotion, retirement, override and policy change, hash-chained."""


@command.command(name="verify")
@config_option
@file_option
@click.option("--anchor", metavar="HASH",
              help="A head recorded earlier (`ledger show --head`); fail if it is no longer in "
                   "the chain, which catches entries removed from the end.")
@reports_errors
def verify(config_path: Path | None, file_path: Path | None, anchor: str | None) -> None:
    """Check the hash chain, the signatures when configured, and that the rule files agree with
    the ledger; exit 1 naming the first problem."""
    path = ledger_path(config_path, file_path)
    config = _config(config_path, file_path)
    checker = signing.verifier(config) if config is not None else signing.Verifier.from_env()
    result = ledger.verify(path, anchor=anchor, signatures=checker if checker.configured else None)
    if not result.ok:
        click.echo(f"error: {plain(result.problem)}", err=True)
        sys.exit(1)
    problems = []
    if config is not None:
        if pending(config.root):
            problems.append(f"{INTENT_NAME}: an interrupted command left a change half made; "
                            f"run `targeting ledger recover`")
        problems += disagreements(config, ledger.read(path))
    for problem in problems:
        click.echo(f"error: {plain(problem)}", err=True)
    if problems:
        sys.exit(1)
    signed = ", signatures valid" if checker.configured else ""
    click.echo(f"{display_path(path)}: {result.entries} entries, chain intact{signed}, "
               f"head {result.head}")


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


@command.command(name="recover")
@config_option
@reports_errors
def recover(config_path: Path | None) -> None:
    """Complete or undo a promote, retire or policy-change that was interrupted (killed, power
    lost); every writing command does this first by itself."""
    config = load_config(config_path)
    with project_lock(config.root) as recovered:
        pass
    if recovered is None:
        click.echo("nothing to recover", err=True)
    else:
        click.echo(f"recovered: {plain(recovered.describe())}", err=True)
