"""Backtest rules over the configured history: the library behind `test`, `evaluate`, `coverage`."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from targeting.backtest import grouped, metrics
from targeting.backtest import shipments as engine
from targeting.backtest.window import Window, resolve_window
from targeting.project import Project, open_project
from targeting.rules.model import Rule


@dataclass
class Backtest:
    """The matched state of one run: rules (requested first, then reference UDRs) and tables."""

    con: duckdb.DuckDBPyConnection
    window: Window
    rules: list[Rule]
    requested: int
    udr_idx: list[int]
    baseline: dict
    counts: pl.DataFrame = field(repr=False)
    method: str = "shipments"

    def scoreboard(self) -> pl.DataFrame:
        """One row per requested rule with every metric of docs/metrics.md."""
        wanted = self.rules[: self.requested]
        return metrics.scoreboard(self.counts.head(self.requested), wanted, self.baseline, self.window)

    def baseline_since(self, since: dt.date) -> dict:
        """The baseline over the window's shipments arriving from `since` on (a start date given
        to the backtest, for the grouped method)."""
        if self.method == "grouped":
            return metrics.baseline_from(grouped.baseline_counts(self.con, since))
        return metrics.baseline(self.con, since)

    def containment(self) -> pl.DataFrame:
        """Each reference UDR's largest share of targeted shipments another one also matches.
        The UDRs must be among the requested rules (only those keep every match)."""
        if any(i >= self.requested for i in self.udr_idx):
            raise ValueError("containment needs the reference UDRs among the requested rules")
        module = grouped if self.method == "grouped" else metrics
        return module.containment(self.con)

    def index_of(self, rule_id: str) -> int:
        return next(i for i, r in enumerate(self.rules) if r.id == rule_id)


GROUPED_FROM = 60  # rules (requested + reference) from which the grouped engine is faster (measured at 1M)


def backtest(project: Project, rules: Sequence[Rule], window: Window,
             reference_udrs: Sequence[Rule] | None = None,
             starts: Mapping[int, dt.date] | None = None, method: str = "auto") -> Backtest:
    """Match `rules` and the reference UDRs (default: the project's active UDRs) and count.

    `starts` maps the index of a requested rule to its own first arrival date: that rule's
    matches before it are dropped (prospective evidence); the reference UDRs keep the window.
    `method` is "shipments" (per-shipment hits, which `metrics.monthly`, `by_port`, `overlaps`,
    `matched_shipments` and `containment` read), "grouped" (grouped.py, for many rules) or
    "auto" (grouped from GROUPED_FROM rules on). Both give the same counts.
    """
    reference = project.active_udrs() if reference_udrs is None else list(reference_udrs)
    requested_ids = {r.id for r in rules}
    all_rules = list(rules) + [u for u in reference if u.id not in requested_ids]
    udr_idx = [i for i, r in enumerate(all_rules) if r.kind == "udr" and r.is_active
               and (r.id in {u.id for u in reference})]
    if method == "auto":
        method = "grouped" if len(all_rules) >= GROUPED_FROM else "shipments"
    con, catalogue = project.dataset.con, project.dataset.catalogue
    folded = engine.ensure_folded(con, engine.fold_fields(all_rules, catalogue), catalogue)
    engine.prepare_window(con, window)
    if method == "grouped":
        return _grouped(con, window, all_rules, len(rules), udr_idx, catalogue, folded, starts)
    engine.match_rules(con, all_rules, catalogue, folded, project.dataset.hit_cache, len(rules))
    if starts:
        engine.drop_before(con, starts)
    engine.count_sizes(con, len(rules))
    engine.hit_facts(con, len(rules))
    counts = metrics.rule_counts(con, all_rules, udr_idx, len(rules))
    return Backtest(con, window, all_rules, len(rules), udr_idx, metrics.baseline(con), counts)


def _grouped(con, window, all_rules, requested, udr_idx, catalogue, folded, starts) -> Backtest:
    grouped.run(con, all_rules, catalogue, folded, starts)
    metrics.register_rules(con, all_rules, udr_idx)
    counts = metrics.combine_counts(*grouped.rule_counts(con), bool(udr_idx))
    base = metrics.baseline_from(grouped.baseline_counts(con))
    return Backtest(con, window, all_rules, requested, udr_idx, base, counts, "grouped")


def project_window(project: Project, since: dt.date | None = None, until: dt.date | None = None,
                   last: str | None = None) -> Window:
    """The window for a run, open ends filled from the data's arrival dates."""
    first, latest = project.dataset.arrival_range()
    return resolve_window(first, latest, since, until, last)


def evaluate(paths: Sequence[str | Path] | None = None, *, config: str | Path | None = None,
             since: dt.date | None = None, until: dt.date | None = None,
             last: str | None = None) -> pl.DataFrame:
    """The scoreboard of the rules under `paths` (default: all configured), sorted by lift."""
    project = open_project(config)
    rules = project.rules(paths)
    run = backtest(project, rules, project_window(project, since, until, last))
    return sort_by_lift(run.scoreboard())


def sort_by_lift(board: pl.DataFrame) -> pl.DataFrame:
    """Highest lift first; rules without a lift last; ties by id."""
    return board.sort(["lift", "id"], descending=[True, False], nulls_last=True)
