"""Options and error handling shared by the commands."""
from __future__ import annotations

import datetime as dt
import functools
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from targeting import files
from targeting.errors import RuleError, TargetingError, TargetingWarning
from targeting.render.escape import plain
from targeting.rules.select import Selection

__all__ = ["Selection"]

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
    """Turn the library's errors into a message on stderr and the error's exit code, and print
    its warnings (TargetingWarning) on stderr as they come, leaving the exit code alone."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("always", TargetingWarning)
            show = warnings.showwarning
            warnings.showwarning = functools.partial(_show_warning, show)
            try:
                return func(*args, **kwargs)
            except RuleError as exc:
                for problem in exc.problems:
                    click.echo(plain(problem), err=True)
                sys.exit(exc.exit_code)
            except TargetingError as exc:
                click.echo(f"error: {plain(exc)}", err=True)
                sys.exit(exc.exit_code)
    return cast(Command, wrapper)


def _show_warning(default: Callable[..., None], message: Warning | str, category: type[Warning],
                  *args: Any, **kwargs: Any) -> None:
    if issubclass(category, TargetingWarning):
        click.echo(plain(message), err=True)
    else:
        default(message, category, *args, **kwargs)


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


def report_change(change: Any, done: str) -> None:
    """What a writing command recovered, wrote and recorded, on stderr (names escaped)."""
    from targeting.render.escape import plain

    if change.recovered is not None:
        click.echo(f"recovered: {plain(change.recovered.describe())}", err=True)
    for path in change.written:
        click.echo(f"wrote {plain(path)}", err=True)
    click.echo(f"{plain(done)}: ledger entry {change.entry.seq}", err=True)


def selection_options(func: Command) -> Command:
    """--tag, --port, --owner and --kind (each repeatable), passed on as `selection`."""
    def build(ctx: click.Context, _: click.Parameter, kinds: tuple[str, ...]) -> Selection:
        params = ctx.params
        return Selection(params.pop("tags", ()), params.pop("ports", ()), params.pop("owners", ()),
                         kinds)

    # click runs callbacks in the order the options were declared: --kind (declared last, so
    # outermost) runs after the others have filled ctx.params, and gathers them.
    func = click.option("--tag", "tags", multiple=True, is_eager=True,
                        help="Only rules with this priority tag (repeatable).")(func)
    func = click.option("--port", "ports", multiple=True, is_eager=True,
                        help="Only rules of this port (repeatable).")(func)
    func = click.option("--owner", "owners", multiple=True, is_eager=True,
                        help="Only rules of this owner (repeatable).")(func)
    return click.option("--kind", "selection", multiple=True, type=click.Choice(["query", "udr"]),
                        callback=build, help="Only queries or only UDRs.")(func)


def board_columns(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """--columns a,b,c checked against the scoreboard's column keys."""
    if not value:
        return None
    from targeting.render.terminal import BOARD_KEYS
    from targeting.rules.loader import did_you_mean

    keys = [k.strip() for k in value.split(",") if k.strip()]
    for key in keys:
        if key not in BOARD_KEYS:
            raise click.BadParameter(f"{key!r} is not a column{did_you_mean(key, BOARD_KEYS)}; "
                                     f"columns: {', '.join(BOARD_KEYS)}")
    return keys
