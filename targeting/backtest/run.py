"""Backtest rules over the project's history: pick an engine, build its `Matches`."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from targeting.backtest.grouped import GroupedEngine
from targeting.backtest.hits import HitCache
from targeting.backtest.matches import Engine, Matches, Plan
from targeting.backtest.shipments import ShipmentEngine
from targeting.backtest.shrinkage import sort_by_shrunk_lift, with_shrinkage
from targeting.backtest.spark import SparkEngine
from targeting.backtest.window import DateLike, Window
from targeting.data.settings import ENGINES
from targeting.data.spark import SparkDataset
from targeting.errors import ConfigError
from targeting.project import Project
from targeting.rules.model import Rule

if TYPE_CHECKING:
    import polars as pl

GROUPED_FROM = 60  # rules (measured + reference) from which the grouped engine is faster (measured at 1M)
__all__ = ["ENGINES", "GROUPED_FROM", "backtest", "engine_for", "make_plan", "project_window",
           "ranked_scoreboard"]


def backtest(project: Project, rules: Sequence[Rule], window: Window,
             reference_udrs: Sequence[Rule] | None = None,
             starts: Mapping[int, dt.date] | None = None, method: str | None = None,
             estimate: str | None = None) -> Matches:
    """Match `rules` and the reference UDRs (default: the project's active UDRs) and count.

    `starts` maps the index of a measured rule to its own first arrival date: that rule's
    matches before it are dropped (prospective evidence); the reference UDRs keep the window.
    `method` is "shipments" (per-shipment), "grouped" (many rules), "auto" (grouped from
    GROUPED_FROM rules on) or "spark" (Apache Spark; the project must be opened with it);
    default: the project's engine. Every method gives the same numbers through the same
    interface. `estimate` chooses the precision estimate (default: the project's
    promotion.estimate).
    """
    plan = make_plan(project, rules, window, reference_udrs, starts)
    return Matches(project.dataset.executor, plan,
                   engine_for(project, plan, method or project.engine),
                   estimate or project.config.promotion.estimate)


def make_plan(project: Project, rules: Sequence[Rule], window: Window,
              reference_udrs: Sequence[Rule] | None = None,
              starts: Mapping[int, dt.date] | None = None) -> Plan:
    """The measured rules, then the reference UDRs not among them."""
    reference = project.active_udrs() if reference_udrs is None else list(reference_udrs)
    measured_ids = {r.id for r in rules}
    reference_ids = {u.id for u in reference}
    all_rules = tuple(rules) + tuple(u for u in reference if u.id not in measured_ids)
    udr_idx = tuple(i for i, r in enumerate(all_rules)
                    if r.kind == "udr" and r.is_active and r.id in reference_ids)
    return Plan(all_rules, len(rules), udr_idx, window, dict(starts or {}))


def engine_for(project: Project, plan: Plan, method: str = "auto") -> Engine:
    """The engine `method` names; "auto" picks by the number of rules."""
    if method not in ENGINES:
        raise ValueError(f"unknown engine {method!r}; expected one of {', '.join(ENGINES)}")
    dataset = project.dataset
    if (method == "spark") != isinstance(dataset, SparkDataset):
        raise ConfigError(f"the {method} engine cannot backtest data opened by the "
                          f"{project.engine} engine; open the project with engine={method!r}")
    if method == "spark":
        return SparkEngine(dataset.catalogue)
    if method in ("auto", "duckdb"):
        method = "grouped" if len(plan.rules) >= GROUPED_FROM else "shipments"
    if method == "grouped":
        return GroupedEngine(dataset.catalogue)
    folder = dataset.hits_folder
    return ShipmentEngine(dataset.catalogue, HitCache(folder) if folder is not None else None)


def project_window(project: Project, since: DateLike | None = None,
                   until: DateLike | None = None, last: str | None = None) -> Window:
    """The window for a run, open ends filled from the data's arrival dates."""
    first, latest = project.dataset.arrival_range()
    return Window.resolve(first, latest, since, until, last)


def ranked_scoreboard(run: Matches) -> pl.DataFrame:
    """The scoreboard with each rule's shrunk estimate (shrinkage.py), highest shrunk lift
    first: a rule ranks high on evidence, not on a lucky draw from a few exams."""
    board = with_shrinkage(run.scoreboard(), run.baseline.get("est_hit_rate"))
    return sort_by_shrunk_lift(board)
