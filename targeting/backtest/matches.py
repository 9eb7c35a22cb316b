"""`Matches`: what a backtest found, behind one interface whatever engine built it.

An engine (per shipment, grouped, or Spark) builds the relations of backtest/metric_sql.py in
its own namespace; everything a command reads (counts, scoreboard, baselines, monthly and
by-port series, overlaps and containment, samples, export, coverage) is computed here from
those relations, by SQL written once.
"""
from __future__ import annotations

import datetime as dt
import itertools
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from targeting.backtest import metric_sql
from targeting.backtest.scoreboard import Baseline, baseline_from, scoreboard
from targeting.backtest.window import Window
from targeting.data.tables import FOLD_PREFIX, RID
from targeting.executor import Executor
from targeting.rules.model import Rule

_NAMESPACES = itertools.count(1)


@dataclass(frozen=True)
class Plan:
    """What to match: the measured rules first, then reference UDRs (overlap and uniqueness are
    measured against `udr_idx`), over `window`, each measured rule from its own start date."""

    rules: tuple[Rule, ...]
    measured: int
    udr_idx: tuple[int, ...]
    window: Window
    starts: Mapping[int, dt.date] = field(default_factory=dict)

    def start_of(self, rule: int) -> dt.date:
        return max(self.window.since, self.starts.get(rule, self.window.since))


class Engine(Protocol):
    """Builds `cells`, `members` and `sizes` for a plan in a namespace (metric_sql.py): `ns` is
    the namespace's table prefix (`bt_1.` or `bt_1_`, see executor.py)."""

    name: str

    def build(self, sql: Executor, plan: Plan, ns: str) -> None: ...

    def rids_sql(self, plan: Plan, ns: str, rule: int) -> tuple[str, list[Any]]:
        """SQL giving (rid, arrival_date) of every shipment a measured rule matches."""
        ...

    def splits_at(self, day: dt.date) -> bool:
        """Whether a baseline can start on `day` (the grouped engine keeps only segments)."""
        ...


class Matches:
    """The matched state of one backtest, in its own namespace of the executor (a DuckDB
    connection or a Spark session): every question is SQL run there, and only its (small)
    answer comes back."""

    def __init__(self, sql: Executor, plan: Plan, engine: Engine):
        self.sql, self.plan, self.engine = sql, plan, engine
        name = f"bt_{next(_NAMESPACES)}"
        self.ns = sql.namespace(name)
        self._finalizer = weakref.finalize(self, sql.drop_namespace, name)
        self._register_rules()
        engine.build(sql, plan, self.ns)
        sql.create(f"{self.ns}cell_totals", f"""SELECT cell, CAST(sum(n) AS BIGINT) AS n,
            CAST(coalesce(sum(n) FILTER (WHERE discrepant), 0) AS BIGINT) AS d
            FROM {self.ns}cells WHERE cell IS NOT NULL GROUP BY cell""")
        self._counts: pl.DataFrame | None = None
        self.baseline = self.baseline_since(None)

    # ------------------------------------------------------------------ the plan
    @property
    def window(self) -> Window:
        return self.plan.window

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.plan.rules

    @property
    def measured(self) -> int:
        return self.plan.measured

    @property
    def method(self) -> str:
        return self.engine.name

    def index_of(self, rule_id: str) -> int:
        """The index of the first rule with that id."""
        return next(i for i, r in enumerate(self.rules) if r.id == rule_id)

    def close(self) -> None:
        """Drop this backtest's tables (also done when the object is collected)."""
        self._finalizer()

    # ------------------------------------------------------------------ per rule
    def counts(self) -> pl.DataFrame:
        """Every count of every measured rule (one row each, in order), before any rate."""
        if self._counts is None:
            ns, n = self.ns, [self.measured]
            counts = self._frame(metric_sql.counts(ns, self.sql.dialect), n)
            unique = self._frame(metric_sql.unique(ns), n)
            overlap = self._frame(metric_sql.overlap(ns), n)
            frame = (counts.join(unique, on="rule", how="left").join(overlap, on="rule", how="left")
                     .with_columns(pl.col("unique_discrepant").fill_null(0)).sort("rule"))
            if self.plan.udr_idx:
                frame = frame.with_columns(pl.col("max_overlap_jaccard").fill_null(0.0))
            self._counts = frame
        return self._counts

    def scoreboard(self) -> pl.DataFrame:
        """One row per measured rule with every metric of docs/metrics.md (backtest/registry.py)."""
        rules = self.rules[: self.measured]
        return scoreboard(self.counts(), rules, self.baseline, self.window)

    def baseline_since(self, since: dt.date | None) -> Baseline:
        """The baseline over the window's shipments arriving from `since` on (None: all). The
        grouped engine answers only at a start date the backtest was given."""
        if since is not None and not self.engine.splits_at(since):
            raise ValueError(f"{since} is not a start date of this backtest")
        row = self.sql.rows(metric_sql.baseline(self.ns), [since, since])[0]
        return baseline_from(row)

    def monthly(self, rule: int) -> pl.DataFrame:
        """Targeted, examined and discrepant per arrival month for one rule (months with any)."""
        return self._frame(metric_sql.series(self.ns, "month"), [rule]).sort("month")

    def by_port(self, rule: int) -> pl.DataFrame:
        """Counts, hit rate and flags per day per port for one rule, busiest port first."""
        frame = self._frame(metric_sql.series(self.ns, "port"), [rule])
        days = self.window.days
        return frame.sort(["targeted", "port"], descending=[True, False]).with_columns(
            hit_rate=pl.when(pl.col("examined") > 0).then(pl.col("discrepant") / pl.col("examined")),
            flags_per_day=pl.col("targeted") / days if days else pl.lit(None, pl.Float64),
        )

    def overlaps(self, rule: int, top: int = 5) -> pl.DataFrame:
        """The reference UDRs sharing shipments with one rule, by Jaccard index, highest first,
        with the share of each side's targets the other also matches."""
        return self._frame(metric_sql.overlaps_of(self.ns), [rule, top])

    def containment(self) -> pl.DataFrame:
        """Each reference UDR's largest share of targeted shipments another one also matches
        (`rule`, `other_id`, `share`). The UDRs must be measured: only those keep every match."""
        if any(i >= self.measured for i in self.plan.udr_idx):
            raise ValueError("containment needs the reference UDRs among the measured rules")
        return self._frame(metric_sql.containment(self.ns), None)

    def sample(self, rule: int, limit: int | None = None) -> pl.DataFrame:
        """The rule's matched shipments with their exam outcome: discrepant first, then examined,
        most recent first; every one when `limit` is None (the export)."""
        rids, params = self.engine.rids_sql(self.plan, self.ns, rule)
        # Cut on the small facts first (keeping ties at the cut), then fetch only those
        # manifest rows by row id: never a join over the whole manifest.
        rank = ("rank() OVER (ORDER BY coalesce(e.discrepant, FALSE) DESC, "
                "coalesce(e.examined, FALSE) DESC, r.arrival_date DESC)")
        picked = f"""SELECT r.rid, r.arrival_date, coalesce(e.examined, FALSE) AS examined,
              coalesce(e.discrepant, FALSE) AS discrepant, e.outcome, e.msrp
              {f", {rank} AS k" if limit is not None else ""}
            FROM ({rids}) r LEFT JOIN exam_facts e ON e.rid = r.rid"""
        if limit is not None:  # no QUALIFY: Spark has none
            picked, params = f"SELECT * FROM ({picked}) ranked WHERE k <= ?", params + [limit]
        self.sql.create(f"{self.ns}picked", picked, params)
        frame = self.sql.frame(f"""SELECT m.*, p.examined, p.discrepant, p.outcome, p.msrp
            FROM {self.ns}picked p JOIN manifest_f m ON m."{RID}" = p.rid
            ORDER BY p.discrepant DESC, p.examined DESC, m.arrival_date DESC, m.shipment_id
            {"LIMIT ?" if limit is not None else ""}""", [limit] if limit is not None else None)
        hidden = [c for c in self.sql.columns("manifest_f") if c == RID or c.startswith(FOLD_PREFIX)]
        return frame.drop(hidden)

    # ------------------------------------------------------------------ coverage
    def discrepant_cells(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Discrepant shipments in groups (`cell`, `n`, `outcome`, `selection_method`,
        `category`) and the priority tags of the active rules matching them (`cell`, `n`,
        `priority`)."""
        return (self._frame(metric_sql.discrepant_cells(self.ns), None),
                self._frame(metric_sql.discrepant_priorities(self.ns), None))

    # ------------------------------------------------------------------ internals
    def _frame(self, sql: str, params: Sequence[Any] | None) -> pl.DataFrame:
        return self.sql.frame(sql, params)

    def _register_rules(self) -> None:
        rules, ns = self.rules, self.ns
        frames = {
            "rule_ids": pl.DataFrame({"rule": range(len(rules)), "rule_id": [r.id for r in rules]},
                                     schema={"rule": pl.Int32, "rule_id": pl.String}),
            "rule_kinds": pl.DataFrame({"rule": range(len(rules)), "kind": [r.kind for r in rules]},
                                       schema={"rule": pl.Int32, "kind": pl.String}),
            "rule_priorities": pl.DataFrame(
                [(i, tag) for i, r in enumerate(rules) for tag in r.priorities],
                schema={"rule": pl.Int32, "priority": pl.String}, orient="row"),
            "udrs": pl.DataFrame({"rule": list(self.plan.udr_idx)}, schema={"rule": pl.Int32}),
        }
        for name, frame in frames.items():
            self.sql.register(f"{ns}{name}", frame)
