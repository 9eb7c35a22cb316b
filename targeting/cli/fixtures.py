"""`targeting fixtures`: write synthetic scenario projects with planted, stated truth."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from targeting.cli.common import reports_errors
from targeting.errors import ConfigError
from targeting.generate import DEFAULT_START, SCENARIOS, generate_project


@click.group(name="fixtures")
def command() -> None:
    """Make synthetic projects to try targeting rules on."""


@command.command(name="generate")
@click.option("--scenario", type=click.Choice(list(SCENARIOS)), default="default",
              show_default=True, help="Which world to draw (see `targeting fixtures scenarios`).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the project into (empty, or use --force).")
@click.option("--shipments", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="Number of manifest lines.")
@click.option("--months", type=click.IntRange(min=1), default=24, show_default=True,
              help="Length of the history in months.")
@click.option("--seed", type=int, default=20241001, show_default=True,
              help="Random seed; the same seed gives the same files.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]),
              default=DEFAULT_START.isoformat(), show_default=True,
              help="First month of the history (the repository's rules are dated for the default).")
@click.option("--rules", "rule_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="default scenario only: the UDR folder to copy in [default: ./rules].")
@click.option("--queries", "query_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="default scenario only: the query folder to copy in [default: ./queries].")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty, replacing "
              "the scenario's files (its rules, queries and lists are cleared first).")
@reports_errors
def generate_command(scenario: str, out: Path, shipments: int, months: int, seed: int,
                     start: dt.datetime, rule_dir: Path | None, query_dir: Path | None,
                     force: bool) -> None:
    """Write a complete project for SCENARIO into OUT: targeting.yaml, rules/, queries/, lists/,
    manifest, exams and truth, and a README.md (with scenario.json) stating its planted facts."""
    written = generate_project(scenario, out, shipments, months, seed, start.date(),
                               _rule_dirs(scenario, rule_dir, query_dir), force)
    for table, rows in written.counts.items():
        click.echo(f"{out / (table + '.parquet')}: {rows:,} rows")
    pop = written.facts["population"]
    click.echo(f"population rate {pop['rate']:.2%}, bar {written.facts['bar']['rate']:.2%}, "
               f"exam rate {pop['exam_rate']:.2%}; facts in {out / 'README.md'}")
    click.echo(f"next: targeting evaluate --config {out / 'targeting.yaml'}")


def _rule_dirs(scenario: str, rule_dir: Path | None,
               query_dir: Path | None) -> tuple[Path, Path] | None:
    if scenario != "default" and (rule_dir or query_dir):
        raise ConfigError(f"--rules and --queries apply to the default scenario only; "
                          f"{scenario!r} writes its own rules")
    if rule_dir is None and query_dir is None:
        return None
    return rule_dir or Path("rules"), query_dir or Path("queries")


@command.command(name="scenarios")
def scenarios_command() -> None:
    """List the scenarios `targeting fixtures generate --scenario` can write."""
    width = max(len(name) for name in SCENARIOS)
    for name, scenario in SCENARIOS.items():
        click.echo(f"{name:<{width}}  {scenario.summary}")
