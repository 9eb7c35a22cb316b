"""`targeting data`: look at the input data (check it against the contract, profile it)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from targeting.cli.common import reports_errors
from targeting.data.checks import check
from targeting.data.config import load_config
from targeting.errors import DataError
from targeting.render.escape import plain
from targeting.render.profile import check_json, print_profile
from targeting.render.terminal import console


@click.group(name="data")
def command() -> None:
    """Check and profile the manifest and exam data."""


@command.command(name="check")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="targeting.yaml to use (default: found from the working folder upwards).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@reports_errors
def check_command(config_path: Path | None, fmt: str) -> None:
    """Check the data against the contract and print its profile; exit 2 on problems."""
    report = check(load_config(config_path))
    if fmt == "json":
        click.echo(json.dumps(check_json(report), indent=2))
    elif report.profile is not None:
        print_profile(report.profile, console())
    for problem in report.problems:
        click.echo(plain(problem), err=True)
    if not report.ok:
        errors = [p for p in report.problems if p.severity == "error"]
        raise DataError(f"{len(errors)} data problem(s); see docs/data-contract.md.", errors)
