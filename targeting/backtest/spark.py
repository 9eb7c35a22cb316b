"""The Spark engine: the backtest as Spark SQL, for histories larger than one machine.

One pass over the window's shipments evaluates every rule on every row (each predicate compiled
by compile.sql in the Spark dialect, over manifest_f's folded columns) and gives each row the
sorted array of the rules it matches, its *match set*. Rows are then counted by match set, time
segment, port, month and exam facts: those groups are the `cells` of backtest/metric_sql.py
(cell = match set and segment, as in the grouped engine), a rule's `members` are the cells whose
match set holds it from its start segment on, and `sizes` sums them. The groups are few (most
shipments match no rule), so the metric SQL then runs on small cached tables, and only its
answers are collected.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl

from targeting.backtest.matches import Plan
from targeting.backtest.metric_sql import CELL_FACTS, CELL_SUMS
from targeting.compile.regex import java_pattern
from targeting.compile.sql import compile_sql
from targeting.data.tables import FOLD_PREFIX, RID
from targeting.dialect import SPARK
from targeting.errors import Problem, RuleError
from targeting.executor import Executor, SparkExecutor
from targeting.rules.model import Catalogue, Rule, leaves


class SparkEngine:
    """Every rule on every row in one Spark pass, counted in groups (the cluster's engine)."""

    name = "spark"

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.folded = {name: FOLD_PREFIX + name for name, kind in catalogue.items() if kind == "text"}
        self._bounds: list[dt.date] = []
        self._since: dt.date | None = None

    def build(self, sql: Executor, plan: Plan, ns: str) -> None:
        if not isinstance(sql, SparkExecutor):
            raise TypeError(f"the Spark engine runs on Spark, not {sql.dialect.name}")
        check_patterns(sql, plan.rules)
        self._since = plan.window.since
        starts = {i: plan.start_of(i) for i in plan.starts}
        self._bounds = sorted(set(starts.values()) - {plan.window.since})
        sql.register(f"{ns}rule_starts", pl.DataFrame(
            [(i, self._bounds.index(d) + 1 if d in self._bounds else 0) for i, d in starts.items()],
            schema={"rule": pl.Int32, "seg": pl.Int32}, orient="row"))
        sql.register(f"{ns}segments", pl.DataFrame(
            {"seg": range(1, len(self._bounds) + 1), "since": self._bounds},
            schema={"seg": pl.Int32, "since": pl.Date}))
        sql.create(f"{ns}groups", *self._groups_sql(plan))
        sql.create(f"{ns}cellkeys", f"""SELECT rules, seg,
            CAST(dense_rank() OVER (ORDER BY rules, seg) AS BIGINT) AS cell
            FROM (SELECT DISTINCT rules, seg FROM {ns}groups) d""")
        _relations(sql, ns, plan.window.since)

    def rids_sql(self, plan: Plan, ns: str, rule: int) -> tuple[str, list[Any]]:
        """Spark keeps no rows: match the one rule again, over the window from its start."""
        predicate, params = compile_sql(plan.rules[rule].where, self.catalogue, SPARK, self.folded)
        w = plan.window
        return (f"""SELECT m."{RID}" AS rid, m.arrival_date FROM manifest_f m
            WHERE m.arrival_date BETWEEN ? AND ? AND m.arrival_date >= ? AND {predicate}""",
                [w.since, w.until, plan.start_of(rule), *params])

    def splits_at(self, day: dt.date) -> bool:
        return day == self._since or day in self._bounds

    def _groups_sql(self, plan: Plan) -> tuple[str, list[Any]]:
        """Shipments of the window counted by match set, segment, port, month and exam facts."""
        cases: list[str] = []
        params: list[Any] = []
        for i, rule in enumerate(plan.rules):
            predicate, more = compile_sql(rule.where, self.catalogue, SPARK, self.folded)
            cases.append(f"CASE WHEN {predicate} THEN {i} END")
            params += more
        # Indices ascend, so the array is sorted: equal match sets are equal arrays.
        rules = (f"array_compact(array({', '.join(cases)}))" if cases
                 else "CAST(array() AS ARRAY<INT>)")
        segment = " + ".join(["0"] + ["CASE WHEN m.arrival_date >= ? THEN 1 ELSE 0 END"
                                      for _ in self._bounds])
        facts = [f"coalesce(e.{name}, {default}) AS {name}" if default != "NULL" else f"e.{name}"
                 for name, default in CELL_FACTS.items()]
        keys = ["rules", "seg", "port", "month", *CELL_FACTS]
        sums = ", ".join(f"sum({name}) AS {name}" for name in CELL_SUMS)
        rows = f"""SELECT {rules} AS rules, {segment} AS seg, m.port_code AS port,
              {SPARK.month_sql("m.arrival_date")} AS month, {", ".join(facts)},
              {", ".join(f"e.{name}" for name in CELL_SUMS)}
            FROM manifest_f m LEFT JOIN exam_facts e ON e.rid = m."{RID}"
            WHERE m.arrival_date BETWEEN ? AND ?"""
        w = plan.window
        return (f"""SELECT {", ".join(keys)}, CAST(count(*) AS BIGINT) AS n, {sums}
            FROM ({rows}) r GROUP BY {", ".join(keys)}""",
                params + list(self._bounds) + [w.since, w.until])


def _relations(sql: SparkExecutor, ns: str, since: dt.date) -> None:
    """`cells`, `members` and `sizes` from the groups (cell = match set and segment)."""
    columns = ", ".join(f"g.{name}" for name in (*CELL_FACTS, *CELL_SUMS))
    sql.create(f"{ns}cells", f"""SELECT k.cell, g.n, g.port, g.month,
          coalesce(s.since, CAST(? AS DATE)) AS start, {columns}
        FROM {ns}groups g JOIN {ns}cellkeys k ON k.rules = g.rules AND k.seg = g.seg
        LEFT JOIN {ns}segments s ON s.seg = g.seg""", [since])
    # Each rule's cells from its own start segment on.
    sql.create(f"{ns}members", f"""SELECT x.rule, x.cell FROM (
          SELECT explode(rules) AS rule, cell, seg FROM {ns}cellkeys) x
        LEFT JOIN {ns}rule_starts s ON s.rule = x.rule
        WHERE s.seg IS NULL OR x.seg >= s.seg""")
    sql.create(f"{ns}sizes", f"""SELECT m.rule, CAST(sum(t.n) AS BIGINT) AS n FROM {ns}members m
        JOIN (SELECT cell, sum(n) AS n FROM {ns}cells GROUP BY cell) t ON t.cell = m.cell
        GROUP BY m.rule""")


def check_patterns(sql: SparkExecutor, rules: Sequence[Rule]) -> None:
    """RuleError for a `matches` pattern java.util.regex does not compile (as Spark will run
    it); the rule language (compile/regex.py) keeps to syntax all three libraries read alike,
    and this is the proof on the cluster's own Java."""
    problems = []
    seen: set[str] = set()
    for rule in rules:
        for leaf in leaves(rule.where):
            if leaf.op != "matches" or leaf.value in seen:
                continue
            seen.add(leaf.value)
            try:
                sql.rows("SELECT regexp_like('', ?)", [java_pattern(leaf.value)])
            except Exception as exc:  # Spark's error for a pattern Java refuses
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                problems.append(Problem("bad-regex", f"'{leaf.field}' matches: the pattern "
                                        f"{leaf.value!r} does not compile in Java (Spark): {reason}",
                                        leaf.loc))
    if problems:
        raise RuleError(problems)
