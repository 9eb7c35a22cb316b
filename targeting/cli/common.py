"""Options and error handling shared by the commands."""
from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from targeting import files
from targeting.errors import RuleError, TargetingError

Command = TypeVar("Command", bound=Callable[..., Any])


def config_option(func: Command) -> Command:
    return click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="targeting.yaml to use (default: found from the working folder upwards).")(func)


def engine_option(func: Command) -> Command:
    """--engine: which backtest engine answers (every engine gives the same numbers)."""
    from targeting.backtest.run import ENGINES

    return click.option("--engine", type=click.Choice(ENGINES), default=None,
                        help="Backtest engine (default: engine: in targeting.yaml, else auto): "
                             "auto (or duckdb) picks per-shipment for few rules, grouped for "
                             "many; spark runs on Apache Spark (docs/spark.md).")(func)


def window_options(func: Command) -> Command:
    """--since, --until and --last."""
    func = click.option("--last", help="Only the last period of the data, such as 12m, 90d or 2y.")(func)
    func = click.option("--until", type=click.DateTime(["%Y-%m-%d"]),
                        help="Last arrival date in the window (default: the data's last).")(func)
    return click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
                        help="First arrival date in the window (default: the data's first).")(func)


def output_options(formats: list[str], help_text: str = "Output format.") -> Callable[[Command], Command]:
    """--format (the first choice is the default) and --output FILE."""
    def decorate(func: Command) -> Command:
        func = click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
                            help="Write to this file (atomically) instead of the terminal.")(func)
        return click.option("--format", "fmt", type=click.Choice(formats), default=formats[0],
                            show_default=True, help=help_text)(func)
    return decorate


def as_date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


def reports_errors(func: Command) -> Command:
    """Turn the library's errors into a message on stderr and the error's exit code."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RuleError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(exc.exit_code)
        except TargetingError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
    return cast(Command, wrapper)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (see files.write_atomic)."""
    files.write_atomic(Path(path), text)


def emit(text: str, output: Path | None) -> None:
    """Print to stdout, or write atomically to `output` and say so on stderr."""
    if output is None:
        click.echo(text)
    else:
        write_atomic(output, text if text.endswith("\n") else text + "\n")
        click.echo(f"wrote {output}", err=True)
