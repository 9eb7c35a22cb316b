"""Which rules account for the discrepant shipments: active UDRs, queries only, or nothing."""
from __future__ import annotations

import polars as pl

from targeting.backtest.run import backtest
from targeting.backtest.window import Window
from targeting.project import Project

COLUMNS = ["dimension", "group", "discrepant", "udr", "query_only", "none",
           "udr_share", "query_only_share", "none_share"]


def coverage_of(project: Project, window: Window) -> pl.DataFrame:
    """The coverage table for the project's active rules over `window`."""
    active = [r for r in project.all_rules if r.is_active]
    run = backtest(project, active, window, [r for r in active if r.kind == "udr"])
    cells, tags = run.discrepant_cells()
    run.close()
    return _summarise(cells, tags)


def _summarise(cells: pl.DataFrame, tags: pl.DataFrame) -> pl.DataFrame:
    categories = cells.select("cell", "category").unique()
    parts = [
        _split(cells.with_columns(group=pl.lit("all discrepant")), "all"),
        _split(cells.rename({"selection_method": "group"}), "selection_method"),
        _split(tags.join(categories, on="cell", how="left").rename({"priority": "group"}),
               "priority"),
        _split(cells.rename({"outcome": "group"}), "outcome"),
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
    shares = [(pl.col(c) / pl.col("discrepant")).alias(f"{c}_share") for c in ("udr", "query_only", "none")]
    return (counts.with_columns(*shares, dimension=pl.lit(dimension))
            .with_columns(pl.col("group").cast(pl.String),
                          pl.col(["discrepant", "udr", "query_only", "none"]).cast(pl.Int64))
            .sort(["discrepant", "group"], descending=[True, False]))
