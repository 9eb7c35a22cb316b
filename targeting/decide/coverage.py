"""Which rules account for the discrepant shipments, and what the programme misses.

The observed split (of the recorded discrepant shipments, by active UDRs, queries only, or no
rule; by selection method, priority, outcome and referral) says who found what was found. It
cannot say what nobody found: exams are chosen, mostly by the rules themselves. The estimates
say it: the share of *all* violations (would-be finds, examined or not) that no active UDR, and
that no active rule at all, matches, by the same methods as a rule's precision
(backtest/estimate.py): weighting each discrepant exam by its logged selection probability,
else the random compliance exams alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from targeting.backtest.estimate import Estimate, estimate
from targeting.backtest.run import backtest
from targeting.backtest.scoreboard import Baseline
from targeting.backtest.window import Window
from targeting.data.recording import recording_completeness
from targeting.project import Project

COLUMNS = ["dimension", "group", "discrepant", "udr", "query_only", "none",
           "udr_share", "query_only_share", "none_share"]
FEW = 30  # below this many random discrepant exams (or effective finds) an estimate is weak


@dataclass(frozen=True)
class Missed:
    """An estimate of the share of all violations that a set of rules does not match."""

    what: str              # "no active UDR" or "no active rule"
    estimate: Estimate
    observed: float | None  # the same share among recorded discrepant shipments
    power_note: str        # when the evidence is thin, what that means

    def as_dict(self) -> dict[str, Any]:
        return {"unmatched_by": self.what, "observed_share": self.observed,
                "power_note": self.power_note, **self.estimate.as_row("est_share")}


@dataclass(frozen=True)
class Coverage:
    """Everything `targeting coverage` shows."""

    window: Window
    table: pl.DataFrame        # the observed split, COLUMNS
    missed: list[Missed]       # estimates of what the programme misses
    recording: pl.DataFrame    # outcome recording per port (data/recording.py)
    baseline: Baseline


def coverage_of(project: Project, window: Window) -> Coverage:
    """Coverage of the window's discrepant shipments by the project's active rules."""
    active = [r for r in project.all_rules if r.is_active]
    run = backtest(project, active, window, [r for r in active if r.kind == "udr"])
    cells, tags = run.discrepant_cells()
    base = run.baseline
    run.close()
    missed = [_missed(cells, base, "no active UDR", pl.col("category") != "udr",
                      project.config.promotion.estimate),
              _missed(cells, base, "no active rule", pl.col("category") == "none",
                      project.config.promotion.estimate)]
    recording = recording_completeness(project.dataset.executor, window.since, window.until)
    return Coverage(window, _summarise(cells, tags), missed, recording, base)


def _missed(cells: pl.DataFrame, base: Baseline, what: str, unmatched: pl.Expr,
            choice: str) -> Missed:
    """The share of all violations that `unmatched` discrepant shipments stand for: a Hajek
    ratio over discrepant exams (estimate.ipw with 'examined' read as 'discrepant' and
    'discrepant' as 'unmatched'), or its random-exam or census form."""
    flagged = cells.with_columns(z=unmatched)
    sums = flagged.select(
        examined=pl.col("n").sum(), discrepant=pl.col("n").filter("z").sum(),
        random_examined=pl.col("n").filter("random_discrepant").sum(),
        random_discrepant=pl.col("n").filter(pl.col("random_discrepant") & pl.col("z")).sum(),
        est_w=pl.col("w").sum(), est_wy=pl.col("w").filter("z").sum(),
        est_v1=pl.col("w_var").filter("z").sum(), est_v0=pl.col("w_var").filter(~pl.col("z")).sum(),
        est_wsq=pl.col("w_sq").sum(), est_unweighted=pl.col("unweighted").sum(),
    ).row(0, named=True)
    sums = {k: (v or 0) for k, v in sums.items()}
    census = base["examined"] == base["shipments"]
    found = estimate({**sums, "targeted": sums["examined"] if census else base["shipments"]},
                     choice)
    observed = sums["discrepant"] / sums["examined"] if sums["examined"] else None
    return Missed(what, found, observed, _power_note(found))


def _power_note(found: Estimate) -> str:
    if found.method == "random" and found.examined < FEW:
        return (f"only {found.examined:.0f} random exams found a violation: the share is "
                "imprecise; more random compliance exams would narrow it")
    if found.method == "ipw" and found.examined < FEW:
        return (f"the weighted finds are worth {found.examined:.0f} exams: the share is "
                "imprecise")
    return ""


def _summarise(cells: pl.DataFrame, tags: pl.DataFrame) -> pl.DataFrame:
    categories = cells.select("cell", "category").unique()
    referral = (pl.when(~pl.col("referred")).then(pl.lit("not referred"))
                .when(pl.col("referral_outcome").is_not_null()).then(pl.col("referral_outcome"))
                .when(pl.col("referral_accepted")).then(pl.lit("accepted, no outcome yet"))
                .otherwise(pl.lit("referred, not accepted or not recorded")))
    parts = [
        _split(cells.with_columns(group=pl.lit("all discrepant")), "all"),
        _split(cells.rename({"selection_method": "group"}), "selection_method"),
        _split(tags.join(categories, on="cell", how="left").rename({"priority": "group"}),
               "priority"),
        _split(cells.rename({"outcome": "group"}), "outcome"),
        _split(cells.with_columns(group=referral), "referral"),
    ]
    return pl.concat(parts).select(COLUMNS)


def _split(frame: pl.DataFrame, dimension: str) -> pl.DataFrame:
    """Counts per group and category, with shares of the group's discrepant shipments."""
    weight = pl.col("n")
    counts = frame.group_by("group").agg(
        discrepant=weight.sum(),
        udr=weight.filter(pl.col("category") == "udr").sum(),
        query_only=weight.filter(pl.col("category") == "query_only").sum(),
        none=weight.filter(pl.col("category") == "none").sum(),
    )
    shares = [(pl.col(c) / pl.col("discrepant")).alias(f"{c}_share")
              for c in ("udr", "query_only", "none")]
    return (counts.with_columns(*shares, dimension=pl.lit(dimension))
            .with_columns(pl.col("group").cast(pl.String),
                          pl.col(["discrepant", "udr", "query_only", "none"]).cast(pl.Int64))
            .sort(["discrepant", "group"], descending=[True, False]))
