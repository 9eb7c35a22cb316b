"""Everything an officer sees about one rule: the library behind `targeting test`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import metrics
from .english import describe
from .errors import Problem, RuleError
from .evaluate import Backtest, backtest
from .model import Rule
from .project import Project
from .window import Window

MIN_RANDOM_EXAMS = 30  # below this the random-exam estimate is too noisy to show


@dataclass
class RuleReport:
    """One rule's backtest with its context."""

    rule: Rule
    english: str
    problems: list[Problem]
    window: Window
    baseline: dict
    metrics: dict
    monthly: pl.DataFrame
    by_port: pl.DataFrame
    overlaps: pl.DataFrame
    run: Backtest = field(repr=False)
    verdict: Any = None

    @property
    def enough_random(self) -> bool:
        return self.metrics["random_examined"] >= MIN_RANDOM_EXAMS

    def matched(self, limit: int | None = None) -> pl.DataFrame:
        return metrics.matched_shipments(self.run.con, 0, limit)


def inspect_rule(project: Project, ref: str | Path, window: Window) -> RuleReport:
    """Validate and backtest one rule (a path or an id) against the project's data and UDRs."""
    path = project.find_rule(str(ref))
    rules, problems = project.check([path])
    errors = [p for p in problems if p.severity == "error"]
    if errors or not rules:
        raise RuleError(errors or problems)
    rule = rules[0]
    run = backtest(project, [rule], window)
    return RuleReport(
        rule=rule, english=describe(rule.where), problems=problems, window=window,
        baseline=run.baseline, metrics=run.scoreboard().row(0, named=True),
        monthly=metrics.monthly(run.con, 0), by_port=metrics.by_port(run.con, 0, window),
        overlaps=metrics.overlaps(run.con, 0), run=run,
    )
