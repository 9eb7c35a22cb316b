"""`targeting coverage`: how the discrepant shipments were found, and by which rules."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from targeting.backtest.run import project_window
from targeting.cli.common import (
    as_date,
    config_option,
    emit,
    engine_option,
    output_options,
    reports_errors,
    window_options,
)
from targeting.decide.coverage import coverage_of
from targeting.project import open_project
from targeting.render.coverage import coverage_json, coverage_markdown, print_coverage
from targeting.render.csvfile import csv_text
from targeting.render.formats import to_json
from targeting.render.terminal import console


@click.command(name="coverage")
@config_option
@window_options
@engine_option
@output_options(["table", "json", "csv", "markdown"])
@reports_errors
def command(config_path: Path | None, since: dt.datetime | None, until: dt.datetime | None,
            last: str | None, engine: str | None, fmt: str,
            output: Path | None) -> None:
    """What share of all violations no active UDR (or rule) matches, estimated; and who matched
    the recorded discrepant shipments."""
    project = open_project(config_path, engine)
    window = project_window(project, as_date(since), as_date(until), last)
    cov = coverage_of(project, window)
    if fmt == "json":
        emit(to_json(coverage_json(cov)), output)
    elif fmt == "csv":
        emit(csv_text(cov.table), output)
    elif fmt == "markdown":
        emit(coverage_markdown(cov), output)
    else:
        print_coverage(cov, console())
