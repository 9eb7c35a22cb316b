"""The Spark engine: the backtest as Spark SQL, for histories larger than one machine.

It is the grouped engine (backtest/grouped.py) in Spark SQL, without DuckDB's packed keys:
1. Every distinct leaf of every rule is evaluated once per distinct value of its field in the
   window (text), or once per interval between the leaves' constants (numbers, dates,
   booleans); each value gets a *class*: the pattern of leaves it satisfies. Evaluating 1,000
   rules on every row instead cost 72 s at 200,000 shipments (a row holds thousands of
   substring tests); on distinct values, a few seconds.
2. Each shipment of the window is looked up in its fields' classes (hash joins with small
   tables) and counted by classes, time segment, port, month and exam facts.
3. The rules are evaluated on the distinct class tuples (*signatures*, few), which gives each
   its *match set*, the sorted array of rules it satisfies; the counts regrouped by match set
   are the `cells` of backtest/metric_sql.py (cell = match set and segment), a rule's
   `members` the cells whose match set holds it from its start segment on, and `sizes` their
   sum. The metric SQL then runs on these small tables, kept on the executors, and only its
   answers are collected.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from targeting.backtest.grouped import BATCH as RULE_BATCH
from targeting.backtest.grouped import _bucket_sql
from targeting.backtest.matches import Plan
from targeting.backtest.metric_sql import CELL_FACTS, CELL_SUMS
from targeting.backtest.window import Window
from targeting.compile.regex import java_pattern
from targeting.compile.sql import compile_sql, list_matches_sql
from targeting.data.tables import RID
from targeting.dialect import SPARK
from targeting.errors import Problem, RuleError
from targeting.executor import Executor, SparkExecutor
from targeting.rules.model import (
    NAMED_LIST_OPERATORS,
    All,
    AnyOf,
    Catalogue,
    Leaf,
    Node,
    Not,
    Rule,
    leaves,
)


@dataclass(frozen=True)
class _Field:
    """One field's classes: the SQL over the window's rows (`w`) that a class is looked up by."""

    index: int
    lookup: str
    params: tuple[Any, ...]


class SparkEngine:
    """Rules evaluated on the signatures of shipments, counted in groups, in Spark SQL."""

    name = "spark"

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self._bounds: list[dt.date] = []
        self._since: dt.date | None = None

    def build(self, sql: Executor, plan: Plan, ns: str) -> None:
        if not isinstance(sql, SparkExecutor):
            raise TypeError(f"the Spark engine runs on Spark, not {sql.dialect.name}")
        check_patterns(sql, plan.rules)
        self._since = plan.window.since
        starts = {i: plan.start_of(i) for i in plan.starts}
        self._bounds = sorted(set(starts.values()) - {plan.window.since})
        sql.table(f"{ns}rule_starts", {
            "rule": ("INTEGER", list(starts)),
            "seg": ("INTEGER", [self._bounds.index(d) + 1 if d in self._bounds else 0
                                for d in starts.values()])})
        sql.table(f"{ns}segments", {"seg": ("INTEGER", list(range(1, len(self._bounds) + 1))),
                                    "since": ("DATE", self._bounds)})
        by_field: dict[str, list[Leaf]] = {}
        for leaf in dict.fromkeys(leaf for rule in plan.rules for leaf in leaves(rule.where)):
            by_field.setdefault(leaf.field, []).append(leaf)
        classes: dict[Leaf, tuple[str, list[int]]] = {}
        fields = self._classes(sql, ns, plan, sorted(by_field.items()), classes)
        keys = [f"c{f.index}" for f in fields] or ["c"]
        sql.create(f"{ns}shipment_groups", *self._rows_sql(plan, ns, fields, keys))
        # Views, not kept: each is read once, by the next step's job.
        sql.view(f"{ns}signatures", f"""SELECT {", ".join(keys)},
              {match_sets(plan.rules, classes)} AS rules
            FROM (SELECT DISTINCT {", ".join(keys)} FROM {ns}shipment_groups) d""")
        facts = ", ".join(f"g.{name}" for name in CELL_FACTS)
        sums = ", ".join(f"sum(g.{name}) AS {name}" for name in CELL_SUMS)
        sql.create(f"{ns}groups", f"""SELECT s.rules, g.seg, g.port, g.month, {facts},
              CAST(sum(g.n) AS BIGINT) AS n, {sums}
            FROM {ns}shipment_groups g JOIN {ns}signatures s ON {" AND ".join(f"s.{k} = g.{k}" for k in keys)}
            GROUP BY s.rules, g.seg, g.port, g.month, {facts}""")
        sql.view(f"{ns}cellkeys", f"""SELECT rules, seg,
            CAST(dense_rank() OVER (ORDER BY rules, seg) AS BIGINT) AS cell
            FROM (SELECT DISTINCT rules, seg FROM {ns}groups) d""")
        _relations(sql, ns, plan.window.since)

    def rids_sql(self, plan: Plan, ns: str, rule: int) -> tuple[str, list[Any]]:
        """Spark keeps no rows: match the one rule again, over the window from its start."""
        predicate, params = compile_sql(plan.rules[rule].where, self.catalogue, SPARK)
        w = plan.window
        return (f"""SELECT m."{RID}" AS rid, m.arrival_date FROM manifest_f m
            WHERE m.arrival_date BETWEEN ? AND ? AND m.arrival_date >= ? AND {predicate}""",
                [w.since, w.until, plan.start_of(rule), *params])

    def splits_at(self, day: dt.date) -> bool:
        return day == self._since or day in self._bounds

    def _classes(self, sql: SparkExecutor, ns: str, plan: Plan,
                 by_field: Sequence[tuple[str, list[Leaf]]],
                 classes: dict[Leaf, tuple[str, list[int]]]) -> list[_Field]:
        """`classes(f, value, flags, cls)`: each field's leaves on its distinct values in the
        window (text) or on one value per interval between the leaves' constants (values as
        text), numbered by the pattern of leaves that hold, every field in one job; `cls_<i>` a
        view of field i's; `classes` learns on which classes each leaf holds."""
        parts, params, fields = [], [], []
        for i, (field, field_leaves) in enumerate(by_field):
            part, more, found = self._field_classes(i, field, field_leaves, plan.window)
            parts.append(part)
            params += more
            fields.append(found)
        if not fields:
            return []
        sql.create(f"{ns}classes", f"""SELECT f, value, flags,
              CAST(dense_rank() OVER (PARTITION BY f ORDER BY flags) AS INT) AS cls
            FROM ({" UNION ALL ".join(parts)}) u""", params)
        holds: dict[tuple[int, int], list[int]] = {}
        for f, cls, flags in sql.rows(f"SELECT DISTINCT f, cls, flags FROM {ns}classes"):
            for j, value in enumerate(flags):
                if value:
                    holds.setdefault((f, j), []).append(cls)
        for i, (_, field_leaves) in enumerate(by_field):
            for j, leaf in enumerate(field_leaves):
                classes[leaf] = (f"c{i}", sorted(holds.get((i, j), [])))
            sql.view(f"{ns}cls_{i}", f"SELECT value, cls FROM {ns}classes WHERE f = {i}")
        return fields

    def _field_classes(self, i: int, field: str, field_leaves: list[Leaf],
                       w: Window) -> tuple[str, list[Any], _Field]:
        """One field's part of `classes`: (f, value, flags) per distinct value or interval. A
        named-list leaf is a join with the values it holds for (compile.sql.list_matches_sql),
        the others expressions over the value."""
        col = _quote(field)
        if self.catalogue[field] == "text":
            lookup, lookup_params = f"w.{col}", ()
        else:
            lookup, lookup_params = _bucket_sql(field, field_leaves)
            lookup = f"CAST({lookup} AS STRING)"
        flags, joins, params, join_params = [], [], [], []
        window = [w.since, w.until]
        values = (f"(SELECT DISTINCT w.{col} AS value FROM manifest_f w "
                  "WHERE w.arrival_date BETWEEN ? AND ?) v")
        for j, leaf in enumerate(field_leaves):
            if leaf.op in NAMED_LIST_OPERATORS:
                matches, more = list_matches_sql(leaf, values, window, SPARK)
                flags.append(f"coalesce(m{j}.hit, FALSE)")
                joins.append(f" LEFT JOIN (SELECT value, TRUE AS hit FROM ({matches}) s{j}) m{j} "
                             f"ON m{j}.value = d.value")
                join_params += more
            else:
                leaf_sql, more = compile_sql(leaf, self.catalogue, SPARK)  # folded, per value
                flags.append(leaf_sql)
                params += more
        # Parameters bind in text order: the leaves', the lookup's, the window's, the joins'.
        part = f"""SELECT {i} AS f, d.value, array({", ".join(flags)}) AS flags FROM (
              SELECT {lookup} AS value, any_value(w.{col}) AS {col} FROM manifest_f w
              WHERE w.arrival_date BETWEEN ? AND ? GROUP BY 1) d{"".join(joins)}"""
        return part, [*params, *lookup_params, *window, *join_params], _Field(i, lookup, lookup_params)

    def _rows_sql(self, plan: Plan, ns: str, fields: Sequence[_Field],
                  keys: Sequence[str]) -> tuple[str, list[Any]]:
        """The window's shipments counted by classes, segment, port, month and exam facts."""
        segment = " + ".join(["0"] + ["CASE WHEN w.arrival_date >= ? THEN 1 ELSE 0 END"
                                      for _ in self._bounds])
        looked_up = [f"coalesce(k{f.index}.cls, 0) AS c{f.index}" for f in fields] or ["0 AS c"]
        joins = "".join(f" LEFT JOIN {ns}cls_{f.index} k{f.index} ON k{f.index}.value <=> {f.lookup}"
                        for f in fields)
        facts = [f"coalesce(e.{name}, {default}) AS {name}" if default != "NULL" else f"e.{name}"
                 for name, default in CELL_FACTS.items()]
        rows = f"""SELECT {", ".join(looked_up)}, {segment} AS seg, w.port_code AS port,
              {SPARK.month_sql("w.arrival_date")} AS month, {", ".join(facts)},
              {", ".join(f"{value} AS {name}" for name, value in CELL_SUMS.items())}
            FROM manifest_f w LEFT JOIN exam_facts e ON e.rid = w."{RID}"{joins}
            WHERE w.arrival_date BETWEEN ? AND ?"""
        group = [*keys, "seg", "port", "month", *CELL_FACTS]
        sums = ", ".join(f"sum({name}) AS {name}" for name in CELL_SUMS)
        w = plan.window
        params = [*self._bounds, *(p for f in fields for p in f.params), w.since, w.until]
        return (f"""SELECT {", ".join(group)}, CAST(count(*) AS BIGINT) AS n, {sums}
            FROM ({rows}) r GROUP BY {", ".join(group)}""", params)


def match_sets(rules: Sequence[Rule], classes: Mapping[Leaf, tuple[str, list[int]]]) -> str:
    """SQL giving a signature's match set: the sorted indices of the rules it satisfies.

    In arrays of RULE_BATCH rules, concatenated: one array of 1,000 took 10.4 s over 156,222
    signatures, arrays of 200 6.1 s (Spark generates code for each part). Collecting the
    signatures and matching them with Polars on the driver took 18 s."""
    if not rules:
        return "CAST(array() AS ARRAY<INT>)"
    parts = []
    for start in range(0, len(rules), RULE_BATCH):
        cases = [f"CASE WHEN {_over_classes(rule.where, classes)} THEN {start + i} END"
                 for i, rule in enumerate(rules[start:start + RULE_BATCH])]
        parts.append(f"array_compact(array({', '.join(cases)}))")
    return f"concat({', '.join(parts)})" if len(parts) > 1 else parts[0]


def _over_classes(node: Node, classes: Mapping[Leaf, tuple[str, list[int]]]) -> str:
    """A predicate as SQL over a signature's class columns: a leaf holds on the classes
    `classes` lists for it (grouped.over_classes, with the classes written out: they are
    integers of our own, and a thousand rules would bind tens of thousands of parameters)."""
    match node:
        case Leaf():
            column, allowed = classes[node]
            return f"{column} IN ({', '.join(map(str, allowed))})" if allowed else "FALSE"
        case All(children):
            parts = [_over_classes(c, classes) for c in children]
            return "(" + " AND ".join(parts) + ")" if parts else "TRUE"
        case AnyOf(children):
            parts = [_over_classes(c, classes) for c in children]
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        case Not(child):
            return f"(NOT {_over_classes(child, classes)})"
    raise TypeError(f"not a predicate node: {node!r}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
    sql.view(f"{ns}sizes", f"""SELECT m.rule, CAST(sum(t.n) AS BIGINT) AS n FROM {ns}members m
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
