"""`targeting test`: the officer's loop — one rule, its numbers, in about a second."""
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
from targeting.decide.inspect import inspect_rule
from targeting.project import open_project
from targeting.render.formats import to_json
from targeting.render.rule import export_matches, print_report, report_json
from targeting.render.terminal import console


@click.command(name="test")
@click.argument("rule")
@config_option
@window_options
@engine_option
@output_options(["table", "json"])
@click.option("--export", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every matched shipment with its exam outcome (.csv or .parquet).")
@reports_errors
def command(rule: str, config_path: Path | None, since: dt.datetime | None, until: dt.datetime | None,
            last: str | None, engine: str | None, fmt: str,
            output: Path | None, export: Path | None) -> None:
    """Backtest one rule or query (a file path or an id) on the configured data."""
    project = open_project(config_path, engine)
    window = project_window(project, as_date(since), as_date(until), last)
    result = inspect_rule(project, rule, window, all_matches=export is not None)
    if fmt == "json":
        emit(to_json(report_json(result)), output)
    else:
        print_report(result, console())
    if export is not None and result.matched is not None:
        export_matches(result.matched, export)
        click.echo(f"wrote {export} ({result.metrics['targeted']:,} shipments)", err=True)
