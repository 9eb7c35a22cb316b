"""`targeting register`: record new and changed predicates in the ledger."""
from __future__ import annotations

from pathlib import Path

import click

from targeting.cli.common import config_option, reports_errors
from targeting.data.config import load_config
from targeting.decide.registration import default_actor, register
from targeting.render.escape import plain


@click.command(name="register")
@click.option("--reviewer", help="Who records the predicates (default: your login name).")
@config_option
@reports_errors
def command(reviewer: str | None, config_path: Path | None) -> None:
    """Record in the ledger each active rule whose predicate (its where and the lists it names)
    the ledger does not hold at its current hash. With `promotion.evidence_source: ledger`, a
    rule's evidence counts from the day after its predicate was first registered.
    """
    done = register(load_config(config_path), reviewer or default_actor())
    if done.recovered is not None:
        click.echo(f"recovered: {plain(done.recovered.describe())}", err=True)
    for entry in done.entries:
        click.echo(plain(f"registered {entry.subject} ({entry.details['file']}): predicate "
                         f"{entry.details['hash'][:12]}, ledger entry {entry.seq}"))
    if not done.entries:
        click.echo("nothing to register: the ledger holds every active rule's current predicate")
