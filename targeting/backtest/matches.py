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
from typing import TYPE_CHECKING, Any, Protocol

from targeting.backtest import metric_sql
from targeting.backtest.scoreboard import Baseline, baseline_from, scoreboard, scoreboard_rows
from targeting.backtest.window import Window
from targeting.data.tables import RID
from targeting.executor import Executor
from targeting.rules.model import Rule

if TYPE_CHECKING:
    import polars as pl

Rows = list[dict[str, Any]]

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

    def __init__(self, sql: Executor, plan: Plan, engine: Engine, estimate: str = "auto"):
        self.sql, self.plan, self.engine = sql, plan, engine
        self.estimate = estimate  # which estimate of precision to make (backtest/estimate.py)
        name = f"bt_{next(_NAMESPACES)}"
        self.ns = sql.namespace(name)
        self._finalizer = weakref.finalize(self, sql.drop_namespace, name)
        self._register_rules()
        engine.build(sql, plan, self.ns)
        sql.create(f"{self.ns}cell_totals", f"""SELECT cell, CAST(sum(n) AS BIGINT) AS n,
            CAST(coalesce(sum(n) FILTER (WHERE discrepant), 0) AS BIGINT) AS d
            FROM {self.ns}cells WHERE cell IS NOT NULL GROUP BY cell""")
        self._counts: Rows | None = None
        self._by_start: Rows | None = None
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
    def counts(self) -> Rows:
        """Every count of every measured rule (one row each, in order), before any rate."""
        if self._counts is None:
            rows = self._rows(metric_sql.rule_counts(self.ns, self.sql.dialect),
                              [self.measured] * 4)
            has_udrs = bool(self.plan.udr_idx)
            top = self._top_selectors()
            for row in rows:
                row["unique_discrepant"] = row["unique_discrepant"] or 0
                if has_udrs and row["max_overlap_jaccard"] is None:
                    row["max_overlap_jaccard"] = 0.0
                row["top_selector_id"], row["top_selector_n"] = top.get(row["rule"], (None, None))
            self._counts = rows
        return self._counts

    def scoreboard_rows(self) -> Rows:
        """One dict per measured rule with every metric of docs/metrics.md (backtest/registry.py)."""
        return scoreboard_rows(self.counts(), self.rules[: self.measured], self.baseline,
                               self.window, self.estimate)

    def _top_selectors(self) -> dict[int, tuple[str, int]]:
        """Per measured rule, the selector that chose most of its examined shipments (ties:
        the smallest id) and how many."""
        top: dict[int, tuple[str, int]] = {}
        for row in self._rows(metric_sql.selectors(self.ns, self.sql.dialect), [self.measured]):
            best = top.get(row["rule"])
            if best is None or (row["n"], best[0]) > (best[1], row["selector"]):
                top[row["rule"]] = (row["selector"], row["n"])
        return top

    def scoreboard(self) -> pl.DataFrame:
        """The scoreboard rows as a Polars DataFrame in the registry's column order."""
        return scoreboard(self.scoreboard_rows())

    def baseline_since(self, since: dt.date | None) -> Baseline:
        """The baseline over the window's shipments arriving from `since` on (None: all). The
        grouped engine answers only at a start date the backtest was given."""
        if since is None:
            return baseline_from(self._rows(metric_sql.baseline(self.ns, self.sql.dialect), [None, None])[0],
                                 self.estimate)
        if not self.engine.splits_at(since):
            raise ValueError(f"{since} is not a start date of this backtest")
        # One query for every start date the policy asks about (a query each took a Spark
        # job each: 27 of them in the bundled review).
        if self._by_start is None:
            self._by_start = self._rows(metric_sql.baseline_by_start(self.ns, self.sql.dialect), None)
        sums: dict[str, Any] = dict.fromkeys(metric_sql.BASELINE_SUMS, 0)
        for row in self._by_start:
            if row["start"] >= since:
                for key in sums:
                    sums[key] += row[key]
        return baseline_from(sums, self.estimate)

    def monthly(self, rule: int) -> Rows:
        """Targeted, examined and discrepant per arrival month for one rule (months with any)."""
        return self._rows(metric_sql.series(self.ns, "month") + " ORDER BY month", [rule])

    def by_port(self, rule: int) -> Rows:
        """Counts, hit rate and flags per day per port for one rule, busiest port first."""
        rows = self._rows(metric_sql.series(self.ns, "port") + " ORDER BY targeted DESC, port",
                          [rule])
        days = self.window.days
        for row in rows:
            row["hit_rate"] = row["discrepant"] / row["examined"] if row["examined"] else None
            row["flags_per_day"] = row["targeted"] / days if days else None
        return rows

    def overlaps(self, rule: int, top: int = 5) -> Rows:
        """The reference UDRs sharing shipments with one rule, by Jaccard index, highest first,
        with the share of each side's targets the other also matches."""
        return self._rows(metric_sql.overlaps_of(self.ns), [rule, top])

    def containment(self) -> Rows:
        """Each reference UDR's largest share of targeted shipments another one also matches
        (`rule`, `other_id`, `share`). The UDRs must be measured: only those keep every match."""
        if any(i >= self.measured for i in self.plan.udr_idx):
            raise ValueError("containment needs the reference UDRs among the measured rules")
        return self._rows(metric_sql.containment(self.ns), None)

    def difference(self, rule: int, other: int) -> dict[str, int]:
        """Shipments measured rule `rule` matches and measured rule `other` does not: how many,
        how many of them were ever examined, and how many found discrepant (what a changed rule
        newly targets, and what evidence there is about them)."""
        a_sql, a_params = self.engine.rids_sql(self.plan, self.ns, rule)
        b_sql, b_params = self.engine.rids_sql(self.plan, self.ns, other)
        return self._rows(f"""SELECT CAST(count(*) AS BIGINT) AS targeted,
              CAST(count(e.rid) AS BIGINT) AS examined,
              CAST(count(*) FILTER (WHERE e.discrepant) AS BIGINT) AS discrepant
            FROM ({a_sql}) a LEFT JOIN exam_facts e ON e.rid = a.rid
            WHERE NOT EXISTS (SELECT 1 FROM ({b_sql}) b WHERE b.rid = a.rid)""",
                          a_params + b_params)[0]

    def sample(self, rule: int, limit: int = 10) -> Rows:
        """Up to `limit` of the rule's matched shipments with their exam outcome: discrepant
        first, then examined, most recent first (ties at the cut kept)."""
        return self._rows(*self._matched_sql(rule, limit))

    def export(self, rule: int) -> pl.DataFrame:
        """Every shipment the rule matches, with its exam outcome, as a DataFrame."""
        return self.sql.frame(*self._matched_sql(rule, None))

    def _matched_sql(self, rule: int, limit: int | None) -> tuple[str, list[Any] | None]:
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
        # The manifest's own columns, named: Spark has no `* EXCLUDE`.
        own = ", ".join(f'm."{c}"' for c in self.sql.columns("manifest_f") if c != RID)
        return (f"""SELECT {own}, p.examined, p.discrepant, p.outcome, p.msrp
            FROM {self.ns}picked p JOIN manifest_f m ON m."{RID}" = p.rid
            ORDER BY p.discrepant DESC, p.examined DESC, m.arrival_date DESC, m.shipment_id
            {"LIMIT ?" if limit is not None else ""}""", [limit] if limit is not None else None)

    # ------------------------------------------------------------------ coverage
    def discrepant_cells(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Discrepant shipments in groups (`cell`, `n`, `outcome`, `selection_method`,
        `category`) and the priority tags of the active rules matching them (`cell`, `n`,
        `priority`)."""
        return (self.sql.frame(metric_sql.discrepant_cells(self.ns)),
                self.sql.frame(metric_sql.discrepant_priorities(self.ns)))

    # ------------------------------------------------------------------ internals
    def _rows(self, sql: str, params: Sequence[Any] | None) -> Rows:
        return self.sql.dicts(sql, params)

    def _register_rules(self) -> None:
        """`rule_ids`, `rule_kinds`, `rule_priorities` and `udrs`: the rule tables the SQL joins,
        from bound lists (one statement each, however many rules)."""
        rules, ns = self.rules, self.ns
        index = list(range(len(rules)))
        tagged = [(i, tag) for i, r in enumerate(rules) for tag in r.priorities]
        tables = {
            "rule_ids": ("rule_id", index, [r.id for r in rules]),
            "rule_kinds": ("kind", index, [r.kind for r in rules]),
            "rule_priorities": ("priority", [i for i, _ in tagged], [t for _, t in tagged]),
        }
        for name, (column, numbers, values) in tables.items():
            self.sql.table(f"{ns}{name}", {"rule": ("INTEGER", numbers),
                                           column: ("VARCHAR", values)})
        self.sql.table(f"{ns}udrs", {"rule": ("INTEGER", list(self.plan.udr_idx))})
