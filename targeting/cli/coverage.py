"""`targeting coverage`: how the discrepant shipments were found, and by which rules."""
from __future__ import annotations

import click

from targeting.backtest.run import project_window
from targeting.cli.common import (
    as_date,
    config_option,
    console,
    emit,
    output_options,
    reports_errors,
    window_options,
)
from targeting.decide.coverage import coverage_of
from targeting.project import open_project
from targeting.render import formats as report

_TITLES = {"all": "All discrepant shipments", "selection_method": "By recorded selection method",
           "priority": "By priority tag (matched by an active rule with the tag)",
           "outcome": "By outcome"}


@click.command(name="coverage")
@config_option
@window_options
@output_options(["table", "json", "csv", "markdown"])
@reports_errors
def command(config_path, since, until, last, fmt, output) -> None:
    """Share of discrepant shipments matched by an active UDR, by queries only, or by nothing."""
    project = open_project(config_path)
    window = project_window(project, as_date(since), as_date(until), last)
    table = coverage_of(project, window)
    if fmt == "json":
        emit(report.to_json({"window": window.as_dict(), "coverage": table.to_dicts()}), output)
    elif fmt == "csv":
        emit(table.write_csv(), output)
    elif fmt == "markdown":
        emit(_markdown(table), output)
    else:
        _print(table)


_COLUMNS = [("group", "group", str), ("discrepant", "discrepant", report.num),
            ("UDR", "udr_share", report.pct), ("query only", "query_only_share", report.pct),
            ("no rule", "none_share", report.pct)]


def _print(table) -> None:
    out = console()
    for dimension, title in _TITLES.items():
        rows = table.filter(table["dimension"] == dimension).to_dicts()
        if rows:
            out.print(report.rows_table(rows, _COLUMNS, title=title))
            out.print()


def _markdown(table) -> str:
    parts = ["# Coverage of discrepant shipments\n"]
    for dimension, title in _TITLES.items():
        part = table.filter(table["dimension"] == dimension).drop("dimension")
        if part.height:
            shares = {c: report.pct for c in ("udr_share", "query_only_share", "none_share")}
            parts.append(f"## {title}\n\n{report.markdown_table(part, shares)}\n")
    return "\n".join(parts)
