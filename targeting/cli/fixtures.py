"""`targeting fixtures generate`: write a synthetic shipment history with planted patterns."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from targeting.errors import TargetingError
from targeting.generate import DEFAULT_START, generate


@click.group(name="fixtures")
def command() -> None:
    """Make synthetic data to try targeting rules on."""


@command.command(name="generate")
@click.option("--shipments", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="Number of manifest lines.")
@click.option("--months", type=click.IntRange(min=1), default=24, show_default=True,
              help="Length of the history in months.")
@click.option("--seed", type=int, default=20241001, show_default=True,
              help="Random seed; the same seed gives the same files.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write manifest, exams, truth and lists into.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]),
              default=DEFAULT_START.isoformat(), show_default=True,
              help="First month of the history (the bundled rules are dated for the default).")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
              default=["rules"], show_default=True, help="UDR folders whose rules select exams.")
@click.option("--queries", "query_dirs", multiple=True,
              type=click.Path(exists=True, path_type=Path), default=["queries"],
              show_default=True, help="Query folders whose rules select exams.")
def generate_command(shipments: int, months: int, seed: int, out: Path, start: dt.datetime,
                     rule_dirs: tuple[Path, ...], query_dirs: tuple[Path, ...]) -> None:
    """Write manifest.parquet, exams.parquet, truth.parquet and lists/ into OUT."""
    try:
        counts = generate(shipments, months, seed, out, start=start.date(),
                          rule_paths=[*rule_dirs, *query_dirs])
    except TargetingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    for table, rows in counts.items():
        click.echo(f"{out / (table + '.parquet')}: {rows:,} rows")
