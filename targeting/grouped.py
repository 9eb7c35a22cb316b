"""The grouped engine: many rules over many shipments without matching rule by rule.

1. Every distinct leaf of every rule is evaluated once. Leaves on a text field are evaluated on
   the field's distinct values, not on every row, and each distinct value gets a *class*: the
   pattern of leaves it satisfies. Leaves on numbers, dates and booleans become one bit per row.
2. Shipments are grouped by their *signature* (one class per text field plus the bits) together
   with what the metrics need (port, arrival date, exam facts). Most shipments match no leaf, so
   there are far fewer groups than shipments, and far fewer signatures than groups.
3. Rules are evaluated on the distinct signatures; every count of docs/metrics.md is then a
   weighted sum over the groups of the signatures a rule matches.

`rule_counts` returns exactly what `metrics.rule_counts` returns on per-shipment hits; tests hold
the two paths equal on the bundled rules and on random predicate trees.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import duckdb
import polars as pl

from .compile_sql import compile_sql
from .model import All, AnyOf, Catalogue, Leaf, Node, Not, Rule, leaves

BATCH = 200


def prepare(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], catalogue: Catalogue,
            folded: Mapping[str, str], starts: Mapping[int, dt.date] | None = None) -> dict[Leaf, str]:
    """Build `sigs` (one row per signature, a boolean column per leaf) and `groups`; needs `w`.

    `starts` (rule index -> first arrival date) splits time into segments at those dates, so a
    rule's groups from its own start on can be told apart without keeping every date.
    """
    distinct = list(dict.fromkeys(leaf for rule in rules for leaf in leaves(rule.where)))
    by_field: dict[str, list[Leaf]] = {}
    for leaf in distinct:
        by_field.setdefault(leaf.field, []).append(leaf)
    text = {f: ls for f, ls in by_field.items() if catalogue[f] == "text"}
    rowwise = [leaf for f, ls in by_field.items() if catalogue[f] != "text" for leaf in ls]
    columns: dict[Leaf, str] = {}
    class_columns = []
    for i, (field, field_leaves) in enumerate(sorted(text.items())):
        class_columns.append(_classes(con, i, field, field_leaves, catalogue, folded, columns))
    bits = _bits(rowwise, catalogue, columns)
    _segments(con, starts or {})
    _groups(con, text, class_columns, bits, sorted(set((starts or {}).values())))
    _signatures(con, text, class_columns, bits, columns)
    return columns


def _classes(con: duckdb.DuckDBPyConnection, i: int, field: str, field_leaves: list[Leaf],
             catalogue: Catalogue, folded: Mapping[str, str], columns: dict[Leaf, str]) -> str:
    """`cls_i(value, cls)` for the field's distinct values, `clsleaf_i(cls, l...)` per class."""
    raw = _quote(field)
    source = [raw] + ([_quote(folded[field])] if field in folded else [])
    exprs, params = [], []
    for j, leaf in enumerate(field_leaves):
        sql, leaf_params = compile_sql(leaf, catalogue, folded=folded)
        exprs.append(f'{sql} AS "l{j}"')
        params += leaf_params
        columns[leaf] = f"t{i}_{j}"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE dict_{i} AS
        SELECT {raw} AS value, {', '.join(exprs)} FROM (SELECT DISTINCT {', '.join(source)} FROM w)""",
                params)
    flags = ", ".join(f'"l{j}"' for j in range(len(field_leaves)))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE cls_{i} AS
        SELECT value, dense_rank() OVER (ORDER BY {flags})::INTEGER AS cls FROM dict_{i}""")
    renamed = ", ".join(f'"l{j}" AS "t{i}_{j}"' for j in range(len(field_leaves)))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE clsleaf_{i} AS
        SELECT DISTINCT dense_rank() OVER (ORDER BY {flags})::INTEGER AS cls, {renamed} FROM dict_{i}""")
    return f"c{i}"


def _bits(rowwise: list[Leaf], catalogue: Catalogue, columns: dict[Leaf, str]) -> list[tuple[str, str, list]]:
    """(column, SQL, params) for each leaf evaluated per row."""
    bits = []
    for k, leaf in enumerate(rowwise):
        sql, params = compile_sql(leaf, catalogue)
        bits.append((f"b{k}", sql, params))
        columns[leaf] = f"b{k}"
    return bits


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


def _groups(con: duckdb.DuckDBPyConnection, text: dict[str, list[Leaf]], class_columns: list[str],
            bits: list[tuple[str, str, list]], bounds: list[dt.date]) -> None:
    """`groups`: shipments counted by signature, port, month, time segment and exam facts."""
    joins, selects, params = [], [], []
    for i, field in enumerate(sorted(text)):
        joins.append(f'LEFT JOIN cls_{i} ON cls_{i}.value IS NOT DISTINCT FROM w.{_quote(field)}')
        selects.append(f"cls_{i}.cls AS {class_columns[i]}")
    for column, sql, bit_params in bits:
        selects.append(f"{sql} AS {column}")
        params += bit_params
    segment, segment_params = _segment_sql(bounds)
    selects.append(f"{segment} AS seg")
    params += segment_params
    keys = class_columns + [b[0] for b in bits]
    key_sql = "".join(f"{k}, " for k in keys)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE groups_raw AS
        WITH rows AS (
          SELECT {', '.join(selects + ['w.port_code AS port', "strftime(w.arrival_date, '%Y-%m') AS month", 'w.shipment_id'])}
          FROM w {' '.join(joins)}
        )
        SELECT {key_sql} port, month, seg,
          coalesce(e.examined, FALSE) AS examined, coalesce(e.discrepant, FALSE) AS discrepant,
          coalesce(e.random_examined, FALSE) AS random_examined,
          coalesce(e.random_discrepant, FALSE) AS random_discrepant,
          e.outcome, coalesce(e.referred, FALSE) AS referred, e.selectors,
          count(*) AS n, sum(e.msrp) AS msrp
        FROM rows LEFT JOIN exam_facts e USING (shipment_id)
        GROUP BY ALL""", params)
    order = ", ".join(keys) if keys else "1"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE groups AS
        SELECT *, dense_rank() OVER (ORDER BY {order}) AS sig, row_number() OVER () AS gid
        FROM groups_raw""")
    con.execute("DROP TABLE groups_raw")


def _signatures(con: duckdb.DuckDBPyConnection, text: dict[str, list[Leaf]], class_columns: list[str],
                bits: list[tuple[str, str, list]], columns: dict[Leaf, str]) -> None:
    """`sigs`: one row per signature with a boolean column per distinct leaf."""
    keys = class_columns + [b[0] for b in bits]
    joins = [f"LEFT JOIN clsleaf_{i} l{i} ON l{i}.cls = s.{class_columns[i]}" for i in range(len(text))]
    leaf_columns = [f"coalesce(l{i}.{_quote(col)}, FALSE) AS {_quote(col)}"
                    for i, field in enumerate(sorted(text)) for col in _field_columns(i, columns)]
    bit_columns = [f"s.{b[0]}" for b in bits]
    selects = ", ".join(["s.sig"] + leaf_columns + bit_columns)
    distinct = ", ".join(["sig"] + keys)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE sigs AS
        SELECT {selects} FROM (SELECT DISTINCT {distinct} FROM groups) s {' '.join(joins)}""")


def _field_columns(i: int, columns: dict[Leaf, str]) -> list[str]:
    return [c for c in columns.values() if c.startswith(f"t{i}_")]


def match(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], columns: dict[Leaf, str]) -> None:
    """`sig_hits(rule, sig)`: the signatures each rule matches (rule = index in `rules`)."""
    con.execute("CREATE OR REPLACE TEMP TABLE sig_hits (rule INTEGER, sig BIGINT)")
    for start in range(0, len(rules), BATCH):
        parts = [f"SELECT {start + i} AS rule, sig FROM sigs WHERE {over_leaves(rule.where, columns)}"
                 for i, rule in enumerate(rules[start:start + BATCH])]
        con.execute("INSERT INTO sig_hits " + " UNION ALL ".join(parts))


def over_leaves(node: Node, columns: Mapping[Leaf, str]) -> str:
    """A predicate as SQL over precomputed (never null) leaf columns; no values involved."""
    match node:
        case Leaf():
            return _quote(columns[node])
        case All(children):
            return "(" + " AND ".join(over_leaves(c, columns) for c in children) + ")" if children else "TRUE"
        case AnyOf(children):
            return "(" + " OR ".join(over_leaves(c, columns) for c in children) + ")" if children else "FALSE"
        case Not(child):
            return f"(NOT {over_leaves(child, columns)})"
    raise TypeError(f"not a predicate node: {node!r}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rule_counts(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Per-rule counts, unique discrepant and overlap frames, as `metrics.rule_counts` joins them.

    Needs `sig_hits`, `groups`, `rule_starts`, `rule_ids` and `udrs`."""
    con.execute(_RULE_GROUPS)
    counts = con.sql(_COUNTS).pl()
    unique = con.sql(_UNIQUE).pl()
    overlap = con.sql(_OVERLAP).pl()
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
SELECT h.rule, g.* FROM sig_hits h JOIN groups g ON g.sig = h.sig
LEFT JOIN rule_starts s ON s.rule = h.rule
WHERE s.seg IS NULL OR g.seg >= s.seg
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
SELECT a.rule, sum(a.n)::BIGINT AS unique_discrepant
FROM rule_groups a
WHERE a.discrepant AND NOT EXISTS (
  SELECT 1 FROM rule_groups u JOIN udrs USING (rule) WHERE u.gid = a.gid AND u.rule <> a.rule)
GROUP BY a.rule
"""

_OVERLAP = """
WITH sizes AS (SELECT rule, sum(n) AS n FROM rule_groups GROUP BY rule),
inter AS (
  SELECT a.rule AS rule, b.rule AS udr, sum(a.n) AS n
  FROM rule_groups a JOIN rule_groups b ON a.gid = b.gid AND a.rule <> b.rule
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
    return con.sql("""
        WITH u AS (SELECT * FROM rule_groups WHERE rule IN (SELECT rule FROM udrs)),
        sizes AS (SELECT rule, sum(n) AS n FROM u GROUP BY rule),
        shared AS (
          SELECT a.rule, b.rule AS other, sum(a.n) AS n FROM u a JOIN u b ON a.gid = b.gid AND a.rule <> b.rule
          GROUP BY a.rule, b.rule
        )
        SELECT s.rule, r.rule_id AS other_id, (s.n / z.n)::DOUBLE AS share
        FROM shared s JOIN sizes z ON z.rule = s.rule JOIN rule_ids r ON r.rule = s.other
        QUALIFY row_number() OVER (PARTITION BY s.rule ORDER BY share DESC, other_id) = 1""").pl()
