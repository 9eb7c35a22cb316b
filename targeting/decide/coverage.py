"""Which rules account for the discrepant shipments: active UDRs, queries only, or nothing."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from targeting.backtest.run import backtest, project_window
from targeting.backtest.window import Window
from targeting.db import fetch_frame, register_frame
from targeting.project import Project, open_project

COLUMNS = ["dimension", "group", "discrepant", "udr", "query_only", "none",
           "udr_share", "query_only_share", "none_share"]

# One row per discrepant shipment in the window, with who matched it and how it was selected.
_DISCREPANT = """
WITH first_exam AS (
  SELECT shipment_id, arg_min(selection_method, (exam_date, exam_id)) AS selection_method
  FROM (SELECT shipment_id, coalesce(selection_method, 'unrecorded') AS selection_method,
               exam_date, exam_id FROM exams WHERE result = 'discrepant')
  GROUP BY shipment_id
),
matched AS (
  SELECT h.rid, bool_or(r.kind = 'udr') AS by_udr, bool_or(r.kind = 'query') AS by_query,
         list(DISTINCT p.priority) FILTER (WHERE p.priority IS NOT NULL) AS priorities
  FROM hits h JOIN cov_rules r USING (rule) LEFT JOIN cov_priorities p USING (rule)
  GROUP BY h.rid
)
SELECT f.rid, f.outcome, coalesce(fe.selection_method, 'unrecorded') AS selection_method,
  CASE WHEN m.by_udr THEN 'udr' WHEN m.by_query THEN 'query_only' ELSE 'none' END AS category,
  coalesce(m.priorities, []) AS priorities
FROM w_exams f LEFT JOIN matched m USING (rid) LEFT JOIN first_exam fe USING (shipment_id)
WHERE f.discrepant
"""


def coverage_of(project: Project, window: Window) -> pl.DataFrame:
    """The coverage table for the project's active rules over `window`."""
    active = [r for r in project.all_rules if r.is_active]
    run = backtest(project, active, window, [r for r in active if r.kind == "udr"])
    _register(run.con, active)
    shipments = fetch_frame(run.con, _DISCREPANT)
    return _summarise(shipments)


def _register(con: duckdb.DuckDBPyConnection, rules: list) -> None:
    kinds = pl.DataFrame({"rule": list(range(len(rules))), "kind": [r.kind for r in rules]},
                         schema={"rule": pl.Int32, "kind": pl.String})
    tags = pl.DataFrame([(i, tag) for i, r in enumerate(rules) for tag in r.priorities],
                        schema={"rule": pl.Int32, "priority": pl.String}, orient="row")
    for name, frame in (("cov_rules", kinds), ("cov_priorities", tags)):
        register_frame(con, f"{name}_view", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_view")
        con.unregister(f"{name}_view")


def _summarise(shipments: pl.DataFrame) -> pl.DataFrame:
    total = shipments.with_columns(group=pl.lit("all discrepant"))
    parts = [
        _split(total, "all"),
        _split(shipments.rename({"selection_method": "group"}), "selection_method"),
        _split(shipments.explode("priorities").drop_nulls("priorities")
               .rename({"priorities": "group"}), "priority"),
        _split(shipments.rename({"outcome": "group"}), "outcome"),
    ]
    return pl.concat(parts).select(COLUMNS)


def _split(frame: pl.DataFrame, dimension: str) -> pl.DataFrame:
    """Counts per group and category, with shares of the group's discrepant shipments."""
    counts = frame.group_by("group").agg(
        discrepant=pl.len(),
        udr=(pl.col("category") == "udr").sum(),
        query_only=(pl.col("category") == "query_only").sum(),
        none=(pl.col("category") == "none").sum(),
    )
    shares = [(pl.col(c) / pl.col("discrepant")).alias(f"{c}_share") for c in ("udr", "query_only", "none")]
    return (counts.with_columns(*shares, dimension=pl.lit(dimension))
            .with_columns(pl.col("group").cast(pl.String), pl.col(["discrepant", "udr", "query_only", "none"]).cast(pl.Int64))
            .sort(["discrepant", "group"], descending=[True, False]))


def coverage(*, config: str | Path | None = None, since: dt.date | None = None,
             until: dt.date | None = None, last: str | None = None) -> pl.DataFrame:
    """Library entry point: the coverage table of the configured project."""
    project = open_project(config)
    return coverage_of(project, project_window(project, since, until, last))
