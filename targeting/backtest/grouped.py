"""The grouped engine: many rules over many shipments without matching rule by rule.

1. Every distinct leaf of every rule is evaluated once. Leaves on a text field are evaluated on
   the field's distinct values, not on every row, and each distinct value gets a *class*: the
   pattern of leaves it satisfies. Leaves on numbers, dates and booleans become one bit per row.
2. A shipment's *signature* is its class per text field plus its bits. Rules are evaluated once
   per distinct signature, and signatures are merged into *match sets*: the set of rules they
   satisfy. Most shipments match no rule, so there are few match sets.
3. Shipments are counted by match set, port, month, time segment and exam facts: those groups
   are the `cells` of backtest/metric_sql.py (cell = match set and time segment), and a rule's
   `members` are the cells of the match sets containing it, from its start segment on.

Tests hold it equal to the per-shipment engine on the bundled rules and on random trees.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from targeting.backtest.matches import Plan
from targeting.compile.sql import compile_sql
from targeting.data.tables import RID
from targeting.executor import Executor, duckdb_connection
from targeting.rules.model import All, AnyOf, Catalogue, Leaf, Node, Not, Rule, leaves

BATCH = 200
PACKED_BITS, BIGINT_BITS = 126, 62  # signature keys pack into HUGEINT / BIGINT below these sizes


class GroupedEngine:
    """Rules evaluated on signatures of shipments, counted in groups (the many-rules engine)."""

    name = "grouped"

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self._bounds: list[dt.date] = []
        self._since: dt.date | None = None

    def build(self, sql: Executor, plan: Plan, ns: str) -> None:
        con = duckdb_connection(sql)
        rules = plan.rules
        self._since = plan.window.since
        _window(con, ns, plan)
        by_field: dict[str, list[Leaf]] = {}
        for leaf in dict.fromkeys(leaf for rule in rules for leaf in leaves(rule.where)):
            by_field.setdefault(leaf.field, []).append(leaf)
        columns: dict[Leaf, str] = {}
        fields = [_classes(con, ns, i, name, field_leaves, self.catalogue, columns)
                  for i, (name, field_leaves) in enumerate(sorted(by_field.items()))]
        starts = {i: plan.start_of(i) for i in plan.starts}
        self._bounds = sorted(set(starts.values()) - {plan.window.since})
        _segments(con, ns, starts, self._bounds)
        key = _Key(fields)
        _rows(con, ns, fields, key, self._bounds)
        by_name = dict(zip(sorted(by_field), fields))
        _signatures(con, ns, fields, key, [by_name[name] for name in _gating_fields(rules)])
        match(con, ns, rules, leaf_classes(con, ns, fields, columns))
        _match_sets(con, ns)
        _groups(con, ns)
        _relations(con, ns, len(self._bounds), plan.window.since)

    def rids_sql(self, plan: Plan, ns: str, rule: int) -> tuple[str, list[Any]]:
        """The grouped engine keeps no rows: match the one rule again, over the window."""
        sql, params = compile_sql(plan.rules[rule].where, self.catalogue)
        return (f"SELECT rid, arrival_date FROM {ns}w WHERE arrival_date >= ? AND {sql}",
                [plan.start_of(rule), *params])

    def splits_at(self, day: dt.date) -> bool:
        return day == self._since or day in self._bounds


def _window(con: duckdb.DuckDBPyConnection, ns: str, plan: Plan) -> None:
    """`w`: the window's rows of manifest_f with a rid; `w_exams`: its examined shipments."""
    since, until = plan.window.since, plan.window.until
    con.execute(f"""CREATE VIEW {ns}w AS SELECT m."{RID}" AS rid, m.* FROM manifest_f m
        WHERE m.arrival_date BETWEEN DATE '{since.isoformat()}' AND DATE '{until.isoformat()}'""")
    con.execute(f"""CREATE TABLE {ns}w_exams AS SELECT * FROM exam_facts
        WHERE arrival_date BETWEEN ? AND ?""", [since, until])


@dataclass(frozen=True)
class _Field:
    """One field's classes: how a row's value is looked up (`lookup`) and how many classes."""

    index: int
    lookup: str  # SQL over `w` giving the value cls_<index> is keyed by
    params: tuple[Any, ...]
    classes: int


def _classes(con: duckdb.DuckDBPyConnection, ns: str, i: int, field: str,
             field_leaves: list[Leaf], catalogue: Catalogue, columns: dict[Leaf, str]) -> _Field:
    """`cls_i(value, cls)` and `clsleaf_i(cls, t<i>_<j>...)`: the field's leaves on its distinct
    values (text) or on one value per interval between the leaves' constants (other types)."""
    if catalogue[field] == "text":
        lookup, params = f"w.{_quote(field)}", ()
        distinct = f"SELECT DISTINCT {_quote(field)} AS value, {_quote(field)} FROM {ns}w"
        # Leaves fold text on the distinct values, not on every row.
    else:
        lookup, params = _bucket_sql(field, field_leaves)
        distinct = (f"SELECT {lookup} AS value, any_value(w.{_quote(field)}) AS {_quote(field)} "
                    f"FROM {ns}w w GROUP BY 1")
    exprs: list[str] = []
    leaf_params: list[Any] = []
    for j, leaf in enumerate(field_leaves):
        sql, more = compile_sql(leaf, catalogue)
        exprs.append(f'{sql} AS "l{j}"')
        leaf_params += more
        columns[leaf] = f"t{i}_{j}"
    # Parameters bind in text order: the leaves' come before the subquery's bucket constants.
    con.execute(f"CREATE TABLE {ns}dict_{i} AS SELECT value, {', '.join(exprs)} "
                f"FROM ({distinct})", leaf_params + list(params))
    flags = ", ".join(f'"l{j}"' for j in range(len(field_leaves)))
    con.execute(f"""CREATE TABLE {ns}cls_{i} AS
        SELECT value, dense_rank() OVER (ORDER BY {flags})::INTEGER AS cls FROM {ns}dict_{i}""")
    renamed = ", ".join(f'"l{j}" AS "t{i}_{j}"' for j in range(len(field_leaves)))
    con.execute(f"""CREATE TABLE {ns}clsleaf_{i} AS SELECT DISTINCT
        dense_rank() OVER (ORDER BY {flags})::INTEGER AS cls, {renamed} FROM {ns}dict_{i}""")
    count = con.execute(f"SELECT coalesce(max(cls), 0) FROM {ns}cls_{i}").fetchall()[0][0]
    return _Field(i, lookup, tuple(params), count)


def _bucket_sql(field: str, field_leaves: list[Leaf]) -> tuple[str, tuple[Any, ...]]:
    """SQL numbering where a value falls among the leaves' sorted constants (0: NULL): 2k + 1
    strictly between the k-th and (k+1)-th constant, 2k + 2 on the (k+1)-th. Every comparison
    leaf is constant on each of those intervals.

    A binary search written as nested CASEs: about log2(n) comparisons per row where a sum of
    every comparison cost 2n (1.2 s at 10M rows for a few hundred constants)."""
    constants = sorted({v for leaf in field_leaves for v in _constants(leaf)})
    col = f"w.{_quote(field)}"
    params: list[Any] = []

    def search(lo: int, hi: int) -> str:
        if lo == hi:
            return str(2 * lo + 1)
        mid = (lo + hi) // 2
        params.append(constants[mid])
        below = search(lo, mid)
        params.append(constants[mid])
        above = search(mid + 1, hi)
        return f"CASE WHEN {col} < ? THEN {below} WHEN {col} = ? THEN {2 * mid + 2} ELSE {above} END"

    tree = search(0, len(constants))
    return f"(CASE WHEN {col} IS NULL THEN 0 ELSE {tree} END)", tuple(params)


def _constants(leaf: Leaf) -> tuple[Any, ...]:
    if leaf.op in ("is_null",):
        return ()
    return tuple(leaf.value) if isinstance(leaf.value, tuple) else (leaf.value,)


class _Key:
    """Packs a row's classes into one integer (mixed radix) when that fits in 126 bits, else a
    struct of them."""

    def __init__(self, fields: list[_Field]):
        self.fields: list[_Field] = fields
        self.radix: list[int] = []
        size = 1
        for f in fields:
            self.radix.append(size)
            size *= f.classes + 1
        self.packed = size < 2 ** PACKED_BITS
        self.type = "BIGINT" if size < 2 ** BIGINT_BITS else "HUGEINT"  # narrower keys hash faster

    def sql(self) -> str:
        if not self.fields:
            return "0::BIGINT"
        if self.packed:
            t = self.type
            return " + ".join(f"c{f.index}::{t} * {r}::{t}" for f, r in zip(self.fields, self.radix))
        return "row(" + ", ".join(f"c{f.index}" for f in self.fields) + ")"

    def decode(self, f: _Field) -> str:
        if self.packed:
            t = self.type
            return f"((key // {self.radix[self.fields.index(f)]}::{t}) % {f.classes + 1})::INTEGER"
        return f"key[{self.fields.index(f) + 1}]"


def _segments(con: duckdb.DuckDBPyConnection, ns: str, starts: Mapping[int, dt.date],
              bounds: list[dt.date]) -> None:
    """`rule_starts(rule, seg)`: the first time segment each rule with a start date counts;
    segment k >= 1 starts at the k-th later start date, segment 0 at the window's start."""
    con.execute(f"CREATE TABLE {ns}rule_starts (rule INTEGER, seg INTEGER)")
    rows = [[i, bounds.index(d) + 1 if d in bounds else 0] for i, d in starts.items()]
    if rows:
        con.executemany(f"INSERT INTO {ns}rule_starts VALUES (?, ?)", rows)
    con.execute(f"CREATE TABLE {ns}segments (seg INTEGER, since DATE)")
    if bounds:
        con.executemany(f"INSERT INTO {ns}segments VALUES (?, ?)",
                        [[k + 1, d] for k, d in enumerate(bounds)])


def _segment_sql(bounds: list[dt.date]) -> tuple[str, list[Any]]:
    """SQL numbering a row's segment: how many start dates are on or before its arrival."""
    if not bounds:
        return "0", []
    terms = " + ".join("(w.arrival_date >= ?)::INTEGER" for _ in bounds)
    return terms, list(bounds)


def _rows(con: duckdb.DuckDBPyConnection, ns: str, fields: list[_Field], key: _Key,
          bounds: list[dt.date]) -> None:
    """`g_rows`: each shipment of the window with its signature key, port, month and segment."""
    joins: list[str] = []
    classes: list[str] = []
    params: list[Any] = []
    for f in fields:
        joins.append(f"LEFT JOIN {ns}cls_{f.index} k{f.index} "
                     f"ON k{f.index}.value IS NOT DISTINCT FROM {f.lookup}")
        params += f.params
        classes.append(f"coalesce(k{f.index}.cls, 0) AS c{f.index}")
    segment, segment_params = _segment_sql(bounds)
    selects = classes + [f"{segment} AS seg", "w.port_code AS port",
                         "strftime(w.arrival_date, '%Y-%m') AS month", "w.rid"]
    con.execute(f"""CREATE TABLE {ns}g_rows AS
        SELECT {key.sql()} AS key, seg, port, month, rid FROM (
          SELECT {', '.join(selects)} FROM {ns}w w {' '.join(joins)})""", segment_params + params)


def _match_sets(con: duckdb.DuckDBPyConnection, ns: str) -> None:
    """`sig_ms(sig, ms)` and `ms_hits(rule, ms)`: signatures merged by the set of rules they match."""
    con.execute(f"""CREATE TABLE {ns}sig_rules AS
        SELECT sig, list(rule ORDER BY rule) AS rules FROM {ns}sig_hits GROUP BY sig""")
    con.execute(f"""CREATE TABLE {ns}match_sets AS
        SELECT rules, row_number() OVER () AS ms FROM (SELECT DISTINCT rules FROM {ns}sig_rules)""")
    con.execute(f"""CREATE TABLE {ns}sig_ms AS
        SELECT s.sig, m.ms FROM {ns}sig_rules s JOIN {ns}match_sets m USING (rules)""")
    con.execute(f"CREATE TABLE {ns}ms_hits AS SELECT unnest(rules) AS rule, ms FROM {ns}match_sets")


def _groups(con: duckdb.DuckDBPyConnection, ns: str) -> None:
    """`groups`: shipments counted by match set (0: no rule), port, month, segment, exam facts."""
    # Most shipments match no rule: look up match sets by key among matched keys only, rather
    # than joining every row to every signature.
    con.execute(f"""CREATE TABLE {ns}key_ms AS
        SELECT k.key, sm.ms FROM {ns}sig_ms sm JOIN {ns}sig_keys k USING (sig)""")
    # Unexamined shipments (most of them) have no exam facts to group by: counting them on
    # four small columns apart is much cheaper than grouping every row by lists and strings.
    con.execute(f"""CREATE TABLE {ns}groups AS
        WITH rows AS (
          SELECT coalesce(km.ms, 0) AS ms, r.port, r.month, r.seg, r.rid
          FROM {ns}g_rows r LEFT JOIN {ns}key_ms km ON km.key = r.key)
        SELECT ms, port, month, seg, FALSE AS examined, FALSE AS discrepant,
          FALSE AS random_examined, FALSE AS random_discrepant, NULL::VARCHAR AS outcome,
          FALSE AS referred, NULL::VARCHAR[] AS selectors, NULL::VARCHAR AS first_method,
          FALSE AS referral_accepted, NULL::VARCHAR AS referral_outcome,
          count(*) AS n, NULL::DOUBLE AS msrp, 0.0 AS w, 0.0 AS w_var, 0.0 AS w_sq,
          0::BIGINT AS unweighted
        FROM rows r ANTI JOIN {ns}w_exams e ON e.rid = r.rid
        GROUP BY ms, port, month, seg
        UNION ALL
        SELECT r.ms, r.port, r.month, r.seg, e.examined, e.discrepant, e.random_examined,
          e.random_discrepant, e.outcome, e.referred, e.selectors, e.first_method,
          e.referral_accepted, e.referral_outcome, count(*) AS n, fsum(e.msrp) AS msrp,
          coalesce(fsum(1.0 / e.propensity), 0.0) AS w,
          coalesce(fsum(1.0 / (e.propensity * e.propensity) - 1.0 / e.propensity), 0.0) AS w_var,
          coalesce(fsum(1.0 / (e.propensity * e.propensity)), 0.0) AS w_sq,
          count(*) FILTER (WHERE e.propensity IS NULL) AS unweighted
        FROM rows r JOIN {ns}w_exams e ON e.rid = r.rid
        GROUP BY r.ms, r.port, r.month, r.seg, e.examined, e.discrepant, e.random_examined,
          e.random_discrepant, e.outcome, e.referred, e.selectors, e.first_method,
          e.referral_accepted, e.referral_outcome""")
    con.execute(f"DROP TABLE {ns}g_rows")


def _relations(con: duckdb.DuckDBPyConnection, ns: str, segments: int, since: dt.date) -> None:
    """`cells`, `members` and `sizes` from the groups (cell = match set and segment)."""
    width = segments + 1
    con.execute(f"""CREATE TABLE {ns}cells AS
        SELECT g.ms * {width} + g.seg AS cell, g.n::BIGINT AS n, g.port, g.month,
          coalesce(s.since, ?::DATE) AS start, g.examined,
          g.discrepant, g.random_examined, g.random_discrepant, g.outcome, g.msrp, g.referred,
          g.selectors, g.first_method, g.referral_accepted, g.referral_outcome, g.w, g.w_var,
          g.w_sq, g.unweighted
        FROM {ns}groups g LEFT JOIN {ns}segments s ON s.seg = g.seg""", [since])
    # Each rule's cells, from its own start segment on: the match sets containing it, in every
    # segment where a group of that match set exists.
    con.execute(f"""CREATE TABLE {ns}members AS
        SELECT h.rule, c.cell FROM {ns}ms_hits h
        JOIN (SELECT DISTINCT ms, seg, ms * {width} + seg AS cell FROM {ns}groups) c ON c.ms = h.ms
        LEFT JOIN {ns}rule_starts s ON s.rule = h.rule
        WHERE s.seg IS NULL OR c.seg >= s.seg""")
    con.execute(f"""CREATE TABLE {ns}sizes AS
        SELECT m.rule, sum(t.n)::BIGINT AS n FROM {ns}members m
        JOIN (SELECT cell, sum(n) AS n FROM {ns}cells GROUP BY cell) t ON t.cell = m.cell
        GROUP BY m.rule""")


def _signatures(con: duckdb.DuckDBPyConnection, ns: str, fields: list[_Field], key: _Key,
                order: list[_Field]) -> None:
    """`sig_keys(sig, key, c<i>...)`: one row per signature with its class on each field,
    stored in the order of the `order` fields' classes (see _gating_fields)."""
    classes = "".join(f", {key.decode(f)} AS c{f.index}" for f in fields)
    order_by = f"ORDER BY {', '.join(f'c{f.index}' for f in order)}" if order else ""
    # ORDER BY at the top: DuckDB keeps it (preserve_insertion_order is off, see data/sources.py).
    con.execute(f"""CREATE TABLE {ns}sig_keys AS
        SELECT row_number() OVER () AS sig, * FROM (
          SELECT key{classes} FROM (SELECT DISTINCT key FROM {ns}g_rows)) {order_by}""")


def _gating_fields(rules: Sequence[Rule], most: int = 2) -> list[str]:
    """The fields most rules require a value of (a leaf directly under the rule's top-level
    `all`, such as a query's port), at most `most` and each in a tenth of the rules or more.

    Signatures stored in the order of these fields' classes make matching 1,000 rules about
    twice as fast (measured at 10M shipments): each rule's first test then rejects whole runs
    of signatures at once."""
    required: dict[str, int] = {}
    for rule in rules:
        conjuncts = rule.where.children if isinstance(rule.where, All) else (rule.where,)
        for name in {c.field for c in conjuncts if isinstance(c, Leaf)}:
            required[name] = required.get(name, 0) + 1
    ranked = sorted(required, key=lambda name: (-required[name], name))
    return [name for name in ranked[:most] if required[name] * 10 >= len(rules)]


def leaf_classes(con: duckdb.DuckDBPyConnection, ns: str, fields: list[_Field],
                 columns: dict[Leaf, str]) -> dict[Leaf, tuple[str, list[int]]]:
    """For each leaf, its field's class column and the classes on which the leaf holds."""
    holds: dict[str, list[int]] = {}
    for f in fields:
        table = con.execute(f"SELECT * FROM {ns}clsleaf_{f.index} ORDER BY cls")
        names = [d[0] for d in table.description]
        for row in table.fetchall():
            for name, value in zip(names[1:], row[1:]):
                holds.setdefault(name, [])
                if value:
                    holds[name].append(row[0])
    return {leaf: (f"c{column[1:column.index('_')]}", holds.get(column, []))
            for leaf, column in columns.items()}


def match(con: duckdb.DuckDBPyConnection, ns: str, rules: Sequence[Rule],
          classes: Mapping[Leaf, tuple[str, list[int]]]) -> None:
    """`sig_hits(rule, sig)`: the signatures each rule matches (rule = index in `rules`)."""
    con.execute(f"CREATE TABLE {ns}sig_hits (rule INTEGER, sig BIGINT)")
    for start in range(0, len(rules), BATCH):
        parts: list[str] = []
        params: list[Any] = []
        for i, rule in enumerate(rules[start:start + BATCH]):
            sql = over_classes(rule.where, classes, params)
            parts.append(f"SELECT {start + i} AS rule, sig FROM {ns}sig_keys WHERE {sql}")
        con.execute(f"INSERT INTO {ns}sig_hits " + " UNION ALL ".join(parts), params)


def over_classes(node: Node, classes: Mapping[Leaf, tuple[str, list[int]]], params: list[Any]) -> str:
    """A predicate as SQL over a signature's class columns: a leaf holds when the class is one
    of those it holds on (bound as a parameter list)."""
    match node:
        case Leaf():
            column, allowed = classes[node]
            params.append(allowed)
            return f"list_contains(?::INTEGER[], {column})"
        case All(children):
            parts = [over_classes(c, classes, params) for c in children]
            return "(" + " AND ".join(parts) + ")" if parts else "TRUE"
        case AnyOf(children):
            parts = [over_classes(c, classes, params) for c in children]
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        case Not(child):
            return f"(NOT {over_classes(child, classes, params)})"
    raise TypeError(f"not a predicate node: {node!r}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
