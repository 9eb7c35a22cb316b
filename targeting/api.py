"""The library API: what a notebook user calls. Each function opens the project (or takes an
open one), accepts dates as `date` or ISO strings and rules as paths or ids, and returns data:
Polars DataFrames or dataclasses."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from targeting.backtest.run import backtest, project_window, sort_by_lift
from targeting.backtest.window import DateLike
from targeting.decide import coverage as _coverage
from targeting.project import Project, open_project

ConfigLike = str | Path | Project | None


def _project(config: ConfigLike) -> Project:
    return config if isinstance(config, Project) else open_project(config)


def evaluate(rules: Sequence[str | Path] | None = None, *, config: ConfigLike = None,
             since: DateLike | None = None, until: DateLike | None = None,
             last: str | None = None) -> pl.DataFrame:
    """The scoreboard of the rules given as paths or ids (default: every configured rule),
    one row per rule with every metric of docs/metrics.md, highest lift first."""
    project = _project(config)
    chosen = project.select(rules)
    run = backtest(project, chosen, project_window(project, since, until, last))
    board = sort_by_lift(run.scoreboard())
    run.close()
    return board


def coverage(*, config: ConfigLike = None, since: DateLike | None = None,
             until: DateLike | None = None, last: str | None = None) -> pl.DataFrame:
    """Of the window's discrepant shipments, the share an active UDR, only queries, or no
    rule matched; by selection method, priority and outcome."""
    project = _project(config)
    return _coverage.coverage_of(project, project_window(project, since, until, last))
