"""`targeting evaluate`: the scoreboard of every rule and query."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from targeting.backtest.run import backtest, project_window, ranked_scoreboard
from targeting.cli.common import (
    Selection,
    as_date,
    board_columns,
    config_option,
    emit,
    engine_option,
    output_options,
    reports_errors,
    selection_options,
    window_options,
)
from targeting.project import open_project
from targeting.render import formats as report
from targeting.render.csvfile import csv_text
from targeting.render.terminal import BOARD_KEYS, console, scoreboard_table


@click.command(name="evaluate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@config_option
@window_options
@engine_option
@output_options(["table", "json", "csv", "markdown"])
@click.option("--columns", callback=board_columns, metavar="KEY,...",
              help=f"Table columns to show, in order (default: as many as the terminal fits): "
                   f"{', '.join(BOARD_KEYS)}.")
@selection_options
@reports_errors
def command(paths: tuple[Path, ...], config_path: Path | None, since: dt.datetime | None,
            until: dt.datetime | None,
            last: str | None, engine: str | None,
            fmt: str, output: Path | None, columns: list[str] | None,
            selection: Selection) -> None:
    """Backtest rules and queries (default: all configured) and rank them by lift."""
    project = open_project(config_path, engine)
    window = project_window(project, as_date(since), as_date(until), last)
    run = backtest(project, selection.of(project.rules(list(paths) or None)), window)
    board = ranked_scoreboard(run)
    window_info = window.as_dict()
    if fmt == "json":
        emit(report.to_json({"window": window_info, "baseline": run.baseline,
                             "rules": board.to_dicts()}), output)
    elif fmt == "csv":
        emit(csv_text(board), output)
    elif fmt == "markdown":
        emit(report.scoreboard_markdown(board, window_info, run.baseline), output)
    elif output is not None:
        emit(report.window_line(window_info, run.baseline) + "\n\n" + csv_text(board), output)
    else:
        out = console()
        out.print(report.window_line(window_info, run.baseline))
        table, hidden = scoreboard_table(board, out.width,
                                         project.config.promotion.min_examined, columns)
        out.print(table)
        if hidden:
            where = "left out" if columns else "at a wider terminal"
            out.print(f"[dim]{len(hidden)} more columns {where}: {', '.join(hidden)}; choose with "
                      "--columns, or all of them with --format json or csv.[/]")
