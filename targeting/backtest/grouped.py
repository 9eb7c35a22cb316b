"""The grouped engine: many rules over many shipments without matching rule by rule.

1. Every distinct leaf of every rule is evaluated once. Leaves on a text field are evaluated on
   the field's distinct values, not on every row, and each distinct value gets a *class*: the
   pattern of leaves it satisfies. Leaves on numbers, dates and booleans become one bit per row.
2. A shipment's *signature* is its class per text field plus its bits. Rules are evaluated once
   per distinct signature, and signatures are merged into *match sets*: the set of rules they
   satisfy. Most shipments match no rule, so there are few match sets.
3. Shipments are counted by match set, port, month, time segment and exam facts; every count of
   docs/metrics.md is then a weighted sum over the groups of the match sets containing a rule.

`rule_counts` returns exactly what `metrics.rule_counts` returns on per-shipment hits; tests hold
the two paths equal on the bundled rules and on random predicate trees.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from targeting.compile.sql import compile_sql
from targeting.db import fetch_frame
from targeting.rules.model import All, AnyOf, Catalogue, Leaf, Node, Not, Rule, leaves

BATCH = 200
PACKED_BITS, BIGINT_BITS = 126, 62  # signature keys pack into HUGEINT / BIGINT below these sizes


def run(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], catalogue: Catalogue,
        folded: Mapping[str, str], starts: Mapping[int, dt.date] | None = None) -> None:
    """Build `groups` and `ms_hits(rule, ms)` for `rules` over the window `w`.

    `starts` (rule index -> first arrival date) splits time into segments at those dates, so a
    rule's groups from its own start on can be told apart without keeping every date.
    """
    by_field: dict[str, list[Leaf]] = {}
    for leaf in dict.fromkeys(leaf for rule in rules for leaf in leaves(rule.where)):
        by_field.setdefault(leaf.field, []).append(leaf)
    columns: dict[Leaf, str] = {}
    fields = []
    for i, (field, field_leaves) in enumerate(sorted(by_field.items())):
        fields.append(_classes(con, i, field, field_leaves, catalogue, folded, columns))
    _segments(con, starts or {})
    key = _Key(fields)
    _rows(con, fields, key, sorted(set((starts or {}).values())))
    by_name = dict(zip(sorted(by_field), fields))
    _signatures(con, fields, key, [by_name[name] for name in _gating_fields(rules)])
    match(con, rules, leaf_classes(con, fields, columns))
    _match_sets(con)
    _groups(con)


@dataclass(frozen=True)
class _Field:
    """One field's classes: how a row's value is looked up (`join`) and how many classes."""

    index: int
    lookup: str  # SQL over `w` giving the value cls_<index> is keyed by
    params: tuple
    classes: int


def _classes(con: duckdb.DuckDBPyConnection, i: int, field: str, field_leaves: list[Leaf],
             catalogue: Catalogue, folded: Mapping[str, str], columns: dict[Leaf, str]) -> _Field:
    """`cls_i(value, cls)` and `clsleaf_i(cls, t<i>_<j>...)`: the field's leaves on its distinct
    values (text) or on one value per interval between the leaves' constants (other types)."""
    if catalogue[field] == "text":
        lookup, params = f"w.{_quote(field)}", ()
        distinct = f"SELECT DISTINCT {_quote(field)} AS value, {_quote(field)} FROM w"
        # Folded inline on the distinct values: cheaper than carrying the stored folded copy
        # through DISTINCT over every row, and the same by construction (compile_sql.folded_sql).
        folded = {}
    else:
        lookup, params = _bucket_sql(field, field_leaves)
        distinct = (f"SELECT {lookup} AS value, any_value(w.{_quote(field)}) AS {_quote(field)} "
                    f"FROM w GROUP BY ALL")
    exprs, leaf_params = [], []
    for j, leaf in enumerate(field_leaves):
        sql, more = compile_sql(leaf, catalogue, folded=folded)
        exprs.append(f'{sql} AS "l{j}"')
        leaf_params += more
        columns[leaf] = f"t{i}_{j}"
    # Parameters bind in text order: the leaves' come before the subquery's bucket constants.
    con.execute(f"CREATE OR REPLACE TEMP TABLE dict_{i} AS SELECT value, {', '.join(exprs)} "
                f"FROM ({distinct})", leaf_params + list(params))
    flags = ", ".join(f'"l{j}"' for j in range(len(field_leaves)))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE cls_{i} AS
        SELECT value, dense_rank() OVER (ORDER BY {flags})::INTEGER AS cls FROM dict_{i}""")
    renamed = ", ".join(f'"l{j}" AS "t{i}_{j}"' for j in range(len(field_leaves)))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE clsleaf_{i} AS
        SELECT DISTINCT dense_rank() OVER (ORDER BY {flags})::INTEGER AS cls, {renamed} FROM dict_{i}""")
    count = con.execute(f"SELECT coalesce(max(cls), 0) FROM cls_{i}").fetchall()[0][0]
    return _Field(i, lookup, tuple(params), count)


def _bucket_sql(field: str, field_leaves: list[Leaf]) -> tuple[str, tuple]:
    """SQL numbering where a value falls among the leaves' sorted constants (0: NULL): 2k + 1
    strictly between the k-th and (k+1)-th constant, 2k + 2 on the (k+1)-th. Every comparison
    leaf is constant on each of those intervals.

    A binary search written as nested CASEs: about log2(n) comparisons per row where a sum of
    every comparison cost 2n (1.2 s at 10M rows for a few hundred constants)."""
    constants = sorted({v for leaf in field_leaves for v in _constants(leaf)})
    col = f"w.{_quote(field)}"
    params: list = []

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


def _constants(leaf: Leaf) -> tuple:
    if leaf.op in ("is_null",):
        return ()
    return tuple(leaf.value) if isinstance(leaf.value, tuple) else (leaf.value,)


class _Key:
    """Packs a row's classes into one integer (mixed radix) when that fits in 126 bits, else a
    struct of them."""

    def __init__(self, fields: list[_Field]):
        self.fields, self.radix, size = fields, [], 1
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


def _segments(con: duckdb.DuckDBPyConnection, starts: Mapping[int, dt.date]) -> None:
    """`rule_starts(rule, seg)`: the first time segment each rule with a start date counts."""
    bounds = sorted(set(starts.values()))
    con.execute("CREATE OR REPLACE TEMP TABLE rule_starts (rule INTEGER, seg INTEGER)")
    con.execute("CREATE OR REPLACE TEMP TABLE segments (seg INTEGER, since DATE)")
    if starts:
        con.executemany("INSERT INTO rule_starts VALUES (?, ?)",
                        [[i, bounds.index(d) + 1] for i, d in starts.items()])
        con.executemany("INSERT INTO segments VALUES (?, ?)", [[k + 1, d] for k, d in enumerate(bounds)])


def _segment_sql(bounds: list[dt.date]) -> tuple[str, list]:
    """SQL numbering a row's segment: how many start dates are on or before its arrival."""
    if not bounds:
        return "0", []
    terms = " + ".join("(w.arrival_date >= ?)::INTEGER" for _ in bounds)
    return terms, list(bounds)


def _rows(con: duckdb.DuckDBPyConnection, fields: list[_Field], key: _Key, bounds: list[dt.date]) -> None:
    """`g_rows`: each shipment of the window with its signature key, port, month and segment."""
    joins, classes, params = [], [], []
    for f in fields:
        joins.append(f"LEFT JOIN cls_{f.index} ON cls_{f.index}.value IS NOT DISTINCT FROM {f.lookup}")
        params += f.params
        classes.append(f"coalesce(cls_{f.index}.cls, 0) AS c{f.index}")
    segment, segment_params = _segment_sql(bounds)
    selects = classes + [f"{segment} AS seg", "w.port_code AS port",
                         "date_trunc('month', w.arrival_date) AS month", "w.rid"]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE g_rows AS
        SELECT {key.sql()} AS key, seg, port, month, rid FROM (
          SELECT {', '.join(selects)} FROM w {' '.join(joins)})""", segment_params + params)


def _match_sets(con: duckdb.DuckDBPyConnection) -> None:
    """`sig_ms(sig, ms)` and `ms_hits(rule, ms)`: signatures merged by the set of rules they match."""
    con.execute("""CREATE OR REPLACE TEMP TABLE sig_rules AS
        SELECT sig, list(rule ORDER BY rule) AS rules FROM sig_hits GROUP BY sig""")
    con.execute("""CREATE OR REPLACE TEMP TABLE match_sets AS
        SELECT rules, row_number() OVER () AS ms FROM (SELECT DISTINCT rules FROM sig_rules)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE sig_ms AS
        SELECT s.sig, m.ms FROM sig_rules s JOIN match_sets m USING (rules)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE ms_hits AS
        SELECT unnest(rules) AS rule, ms FROM match_sets""")


def _groups(con: duckdb.DuckDBPyConnection) -> None:
    """`groups`: shipments counted by match set (0: no rule), port, month, segment, exam facts."""
    # Most shipments match no rule: look up match sets by key among matched keys only, rather
    # than joining every row to every signature.
    con.execute("""CREATE OR REPLACE TEMP TABLE key_ms AS
        SELECT k.key, sm.ms FROM sig_ms sm JOIN sig_keys k USING (sig)""")
    # Unexamined shipments (most of them) have no exam facts to group by: counting them on
    # four small columns apart is much cheaper than grouping every row by lists and strings.
    con.execute("""CREATE OR REPLACE TEMP TABLE groups AS
        WITH rows AS (
          SELECT coalesce(km.ms, 0) AS ms, r.port, r.month, r.seg, r.rid
          FROM g_rows r LEFT JOIN key_ms km ON km.key = r.key)
        SELECT ms, port, month, seg, FALSE AS examined, FALSE AS discrepant,
          FALSE AS random_examined, FALSE AS random_discrepant, NULL::VARCHAR AS outcome,
          FALSE AS referred, NULL::VARCHAR[] AS selectors, count(*) AS n, NULL::DOUBLE AS msrp
        FROM rows r ANTI JOIN w_exams e ON e.rid = r.rid
        GROUP BY ms, port, month, seg
        UNION ALL
        SELECT r.ms, r.port, r.month, r.seg, e.examined, e.discrepant, e.random_examined,
          e.random_discrepant, e.outcome, e.referred, e.selectors, count(*) AS n, sum(e.msrp) AS msrp
        FROM rows r JOIN w_exams e ON e.rid = r.rid
        GROUP BY ALL""")
    con.execute("DROP TABLE g_rows")


def _signatures(con: duckdb.DuckDBPyConnection, fields: list[_Field], key: _Key,
                order: list[_Field]) -> None:
    """`sig_keys(sig, key, c<i>...)`: one row per signature with its class on each field,
    stored in the order of the `order` fields' classes (see _gating_fields)."""
    classes = "".join(f", {key.decode(f)} AS c{f.index}" for f in fields)
    order_by = f"ORDER BY {', '.join(f'c{f.index}' for f in order)}" if order else ""
    # ORDER BY at the top: DuckDB keeps it (preserve_insertion_order is off, see data.py).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE sig_keys AS
        SELECT row_number() OVER () AS sig, * FROM (
          SELECT key{classes} FROM (SELECT DISTINCT key FROM g_rows)) {order_by}""")


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


def leaf_classes(con: duckdb.DuckDBPyConnection, fields: list[_Field],
                 columns: dict[Leaf, str]) -> dict[Leaf, tuple[str, list[int]]]:
    """For each leaf, its field's class column and the classes on which the leaf holds."""
    holds: dict[str, list[int]] = {}
    for f in fields:
        table = con.execute(f"SELECT * FROM clsleaf_{f.index} ORDER BY cls")
        names = [d[0] for d in table.description]
        for row in table.fetchall():
            for name, value in zip(names[1:], row[1:]):
                holds.setdefault(name, [])
                if value:
                    holds[name].append(row[0])
    return {leaf: (f"c{column[1:column.index('_')]}", holds.get(column, []))
            for leaf, column in columns.items()}


def match(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule],
          classes: Mapping[Leaf, tuple[str, list[int]]]) -> None:
    """`sig_hits(rule, sig)`: the signatures each rule matches (rule = index in `rules`)."""
    con.execute("CREATE OR REPLACE TEMP TABLE sig_hits (rule INTEGER, sig BIGINT)")
    for start in range(0, len(rules), BATCH):
        parts, params = [], []
        for i, rule in enumerate(rules[start:start + BATCH]):
            sql = over_classes(rule.where, classes, params)
            parts.append(f"SELECT {start + i} AS rule, sig FROM sig_keys WHERE {sql}")
        con.execute("INSERT INTO sig_hits " + " UNION ALL ".join(parts), params)


def over_classes(node: Node, classes: Mapping[Leaf, tuple[str, list[int]]], params: list) -> str:
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


def rule_counts(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Per-rule counts, unique discrepant and overlap frames, as `metrics.rule_counts` joins them.

    Needs `ms_hits`, `groups`, `rule_starts`, `rule_ids` and `udrs`; leaves `rule_groups` and
    `rule_sets` (which `containment` reads)."""
    con.execute(_RULE_GROUPS)
    con.execute(_RULE_SETS)
    counts = fetch_frame(con, _COUNTS)
    unique = fetch_frame(con, _UNIQUE)
    overlap = fetch_frame(con, _OVERLAP)
    return counts, unique, overlap


def baseline_counts(con: duckdb.DuckDBPyConnection, since: dt.date | None = None) -> tuple:
    """(shipments, examined, discrepant, random examined, random discrepant) over the window,
    or from `since` on, which must be one of the start dates the groups were segmented at."""
    first = 0
    if since is not None:
        found = con.execute("SELECT seg FROM segments WHERE since = ?", [since]).fetchall()
        if not found:
            raise ValueError(f"{since} is not a segment start of this grouped backtest")
        first = found[0][0]
    return con.execute("""SELECT coalesce(sum(n), 0)::BIGINT, coalesce(sum(n) FILTER (examined), 0)::BIGINT,
        coalesce(sum(n) FILTER (discrepant), 0)::BIGINT, coalesce(sum(n) FILTER (random_examined), 0)::BIGINT,
        coalesce(sum(n) FILTER (random_discrepant), 0)::BIGINT FROM groups WHERE seg >= ?""",
                       [first]).fetchall()[0]


# Each rule's groups, from its own start date when it has one.
_RULE_GROUPS = """
CREATE OR REPLACE TEMP TABLE rule_groups AS
SELECT h.rule, g.* FROM ms_hits h JOIN groups g ON g.ms = h.ms
LEFT JOIN rule_starts s ON s.rule = h.rule
WHERE s.seg IS NULL OR g.seg >= s.seg
"""

# Overlap and uniqueness need only which shipments a rule matches, not their port, month or
# facts: each rule's match sets per time segment, with shipment and discrepant counts. Far
# smaller than rule_groups (a tenth at 1,000 rules), so the rule-by-UDR joins are cheap.
_RULE_SETS = """
CREATE OR REPLACE TEMP TABLE rule_sets AS
WITH sets AS (
  SELECT ms, seg, sum(n) AS n, coalesce(sum(n) FILTER (discrepant), 0) AS d FROM groups GROUP BY ms, seg
)
SELECT h.rule, m.* FROM ms_hits h JOIN sets m ON m.ms = h.ms
LEFT JOIN rule_starts s ON s.rule = h.rule
WHERE s.seg IS NULL OR m.seg >= s.seg
"""

_COUNTS = """
WITH port_rate AS (
  SELECT port, sum(n) FILTER (discrepant) / sum(n) AS rate FROM groups WHERE examined GROUP BY port
)
SELECT r.rule,
  coalesce(sum(g.n), 0)::BIGINT AS targeted,
  coalesce(sum(g.n) FILTER (g.examined), 0)::BIGINT AS examined,
  coalesce(sum(g.n) FILTER (g.discrepant), 0)::BIGINT AS discrepant,
  coalesce(sum(g.n) FILTER (g.random_examined), 0)::BIGINT AS random_examined,
  coalesce(sum(g.n) FILTER (g.random_discrepant), 0)::BIGINT AS random_discrepant,
  coalesce(sum(g.n) FILTER (g.examined AND list_contains(g.selectors, r.rule_id)), 0)::BIGINT AS self_selected,
  sum(g.n * pr.rate) FILTER (g.examined) AS expected_discrepant,
  count(DISTINCT g.port) AS ports_targeted,
  count(DISTINCT g.port) FILTER (g.discrepant) AS ports_with_hits,
  count(DISTINCT g.month) FILTER (g.discrepant) AS months_with_hits,
  coalesce(sum(g.n) FILTER (g.outcome = 'seizure'), 0)::BIGINT AS seizures,
  coalesce(sum(g.n) FILTER (g.outcome = 'abandonment'), 0)::BIGINT AS abandonments,
  coalesce(sum(g.n) FILTER (g.outcome = 'refused_entry'), 0)::BIGINT AS refused_entries,
  coalesce(sum(g.n) FILTER (g.outcome = 'other'), 0)::BIGINT AS other_outcomes,
  coalesce(sum(g.msrp) FILTER (g.discrepant), 0)::DOUBLE AS msrp_total,
  coalesce(sum(g.n) FILTER (g.discrepant AND g.referred), 0)::BIGINT AS referrals
FROM rule_ids r
LEFT JOIN rule_groups g ON g.rule = r.rule
LEFT JOIN port_rate pr ON pr.port = g.port
GROUP BY r.rule
"""

# Discrepant shipments in groups that no reference UDR other than the rule itself matches.
_UNIQUE = """
SELECT a.rule, sum(a.d)::BIGINT AS unique_discrepant
FROM rule_sets a
WHERE a.d > 0 AND NOT EXISTS (
  SELECT 1 FROM rule_sets u JOIN udrs USING (rule) WHERE u.ms = a.ms AND u.seg = a.seg AND u.rule <> a.rule)
GROUP BY a.rule
"""

_OVERLAP = """
WITH sizes AS (SELECT rule, sum(n) AS n FROM rule_sets GROUP BY rule),
inter AS (
  SELECT a.rule AS rule, b.rule AS udr, sum(a.n) AS n
  FROM rule_sets a JOIN rule_sets b ON a.ms = b.ms AND a.seg = b.seg AND a.rule <> b.rule
  WHERE b.rule IN (SELECT rule FROM udrs)
  GROUP BY a.rule, b.rule
)
SELECT i.rule, r.rule_id AS max_overlap_id, (i.n / (sa.n + sb.n - i.n))::DOUBLE AS max_overlap_jaccard
FROM inter i JOIN sizes sa ON sa.rule = i.rule JOIN sizes sb ON sb.rule = i.udr
JOIN rule_ids r ON r.rule = i.udr
QUALIFY row_number() OVER (PARTITION BY i.rule ORDER BY max_overlap_jaccard DESC, r.rule_id) = 1
"""


def containment(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """As `metrics.containment`, from the groups: each reference UDR's largest share of targeted
    shipments another reference UDR also matches."""
    return fetch_frame(con, """
        WITH u AS (SELECT * FROM rule_sets WHERE rule IN (SELECT rule FROM udrs)),
        sizes AS (SELECT rule, sum(n) AS n FROM u GROUP BY rule),
        shared AS (
          SELECT a.rule, b.rule AS other, sum(a.n) AS n FROM u a
          JOIN u b ON a.ms = b.ms AND a.seg = b.seg AND a.rule <> b.rule
          GROUP BY a.rule, b.rule
        )
        SELECT s.rule, r.rule_id AS other_id, (s.n / z.n)::DOUBLE AS share
        FROM shared s JOIN sizes z ON z.rule = s.rule JOIN rule_ids r ON r.rule = s.other
        QUALIFY row_number() OVER (PARTITION BY s.rule ORDER BY share DESC, other_id) = 1""")
