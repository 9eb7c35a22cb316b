"""`targeting replay`: the policy walked forward over the history, and what followed."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from targeting.cli.common import (
    as_date,
    config_option,
    emit,
    engine_option,
    output_options,
    reports_errors,
)
from targeting.decide.replay import ReplayError, Step, parse_every, replay
from targeting.project import open_project
from targeting.render import formats as report
from targeting.render import replay as render
from targeting.render.terminal import as_text, console


def period(ctx: click.Context, param: click.Parameter, value: str) -> Step:
    """--every as a Step; a usage error (exit 2) that names the option otherwise."""
    try:
        return parse_every(value)
    except ReplayError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command(name="replay")
@click.option("--every", callback=period, default="1m", show_default=True,
              help="Time between cut-offs: months (1m, 3m) or days (14d).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="First cut-off (default: the last day of the data's first recent_months "
                   "months).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]),
              help="Last cut-off (default: the data's last arrival).")
@config_option
@engine_option
@output_options(["table", "json", "html"])
@reports_errors
def command(every: Step, since: dt.datetime | None, until: dt.datetime | None,
            config_path: Path | None, engine: str, fmt: str, output: Path | None) -> None:
    """Run the policy at every cut-off as `candidates --until` would, and show what each
    promotion and retirement it made delivered over the rest of the history."""
    project = open_project(config_path, engine)
    result = replay(project, every, as_date(since), as_date(until))
    if fmt == "json":
        emit(report.to_json(render.as_json(result)), output)
    elif fmt == "html":
        emit(render.html(result), output)
    elif output is not None:
        emit(as_text(render.terminal_renderables(result, 100)), output)
    else:
        out = console()
        for renderable in render.terminal_renderables(result, out.width):
            out.print(renderable)
