"""Run many rules over the window's shipments and keep who matched what.

The result lives in the DuckDB connection as temp tables the metrics read:
- `hits(rule, rid)`: one row per (rule, matched shipment);
- `w_facts(rid, shipment_id, port, month, arrival_date, examined, discrepant, random_examined,
   random_discrepant, outcome, msrp, referred, selectors)`: one row per matched shipment;
- `w_exams`: the same columns for every examined shipment in the window (baselines, coverage).
Rules are evaluated in batches, each batch in one scan of the shipments.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import duckdb

from .compile_sql import compile_sql, folded_sql
from .model import All, AnyOf, Catalogue, Leaf, Node, Not, Rule, leaves
from .window import Window

# One row per examined shipment. Outcome precedence makes outcomes a partition of discrepant
# shipments: seizure > refused entry > abandonment > other.
_EXAM_FACTS = """
SELECT shipment_id,
  TRUE AS examined,
  coalesce(bool_or(result = 'discrepant'), FALSE) AS discrepant,
  coalesce(bool_or(selection_method = 'random'), FALSE) AS random_examined,
  coalesce(bool_or(selection_method = 'random' AND result = 'discrepant'), FALSE) AS random_discrepant,
  CASE WHEN bool_or(result = 'discrepant' AND disposition = 'seizure') THEN 'seizure'
       WHEN bool_or(result = 'discrepant' AND disposition = 'refused_entry') THEN 'refused_entry'
       WHEN bool_or(result = 'discrepant' AND disposition = 'voluntary_abandonment') THEN 'abandonment'
       WHEN bool_or(result = 'discrepant') THEN 'other' END AS outcome,
  sum(msrp) FILTER (WHERE result = 'discrepant') AS msrp,
  coalesce(bool_or(result = 'discrepant') AND bool_or(referred_to_ice), FALSE) AS referred,
  list(DISTINCT selector_id) FILTER (WHERE selector_id IS NOT NULL) AS selectors
FROM exams GROUP BY shipment_id
"""


FOLD_PREFIX = "__folded__"
RID = "__rid"  # a stable row number in manifest_f, the key of hits and w_facts


def fold_fields(rules: Sequence[Rule], catalogue: Catalogue) -> set[str]:
    """The text fields the rules compare after folding (every text operator but matches)."""
    return {leaf.field for rule in rules for leaf in leaves(rule.where)
            if catalogue.get(leaf.field) == "text" and leaf.op not in ("matches", "is_null")}


def ensure_folded(con: duckdb.DuckDBPyConnection, fields: set[str], catalogue: Catalogue) -> dict[str, str]:
    """Keep `manifest_f`: the manifest plus a folded copy of each text field rules compare.

    Folding text once per connection, rather than in every leaf of every rule and every run,
    is what keeps many rules and repeated backtests (candidates, the gate) cheap.
    """
    present = {c[len(FOLD_PREFIX):] for c in _columns(con, "manifest_f") if c.startswith(FOLD_PREFIX)}
    if not present >= fields or not _exists(con, "manifest_f"):
        wanted = sorted(present | fields)
        # exam facts, window tables and cached hits are keyed by rows of the old manifest_f
        for table in ("exam_facts", "w_bounds", "hit_cache"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        extra = "".join(f', {folded_sql(name, catalogue)} AS "{FOLD_PREFIX}{name}"' for name in wanted)
        con.execute(f'CREATE OR REPLACE TEMP TABLE manifest_f AS SELECT row_number() OVER () AS "{RID}", '
                    f"*{extra} FROM manifest")
    return {name: f"{FOLD_PREFIX}{name}" for name in fields}


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table or view of that name is visible."""
    rows = con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ? UNION ALL "
                       "SELECT 1 FROM duckdb_views() WHERE view_name = ? AND NOT internal",
                       [name, name]).fetchall()
    return bool(rows)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    if not _exists(con, table):
        return []
    return [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]


def prepare_window(con: duckdb.DuckDBPyConnection, window: Window, source: str = "manifest") -> None:
    """Create the view `w` (the window's rows of `source` with a rid) and `w_exams` (exam facts
    of the window's examined shipments, with rid, port, month and arrival date).

    `w` is a view, not a copy: rules scan the source once, filtered to the window. Only
    examined shipments (a few percent) get their facts materialised here; see `hit_facts`.
    """
    if source not in ("manifest", "manifest_f"):
        raise ValueError(f"unknown source table {source!r}")
    _ensure_exam_facts(con)
    bounds = [window.since, window.until, source]
    if _exists(con, "w_bounds") and con.execute(
            "SELECT count(*) FROM w_bounds WHERE since = ? AND until = ? AND source = ?", bounds).fetchall()[0][0]:
        return  # the same window over the same source: `w` and `w_exams` are still right
    con.execute("CREATE OR REPLACE TEMP TABLE w_bounds AS SELECT ?::DATE AS since, ?::DATE AS until, "
                "?::VARCHAR AS source", bounds)
    rid = f'm."{RID}"' if source == "manifest_f" else "m.rowid"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW w AS SELECT {rid} AS rid, m.* FROM {source} m
        WHERE m.arrival_date BETWEEN (SELECT since FROM w_bounds) AND (SELECT until FROM w_bounds)""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE w_exams AS SELECT {_FACT_COLUMNS} "
                "FROM w JOIN exam_facts e USING (shipment_id)")


# Per shipment: where and when it arrived, and its exam facts (no exam: not examined).
_FACT_COLUMNS = """w.rid, w.shipment_id, w.port_code AS port, strftime(w.arrival_date, '%Y-%m') AS month,
  w.arrival_date, coalesce(e.examined, FALSE) AS examined, coalesce(e.discrepant, FALSE) AS discrepant,
  coalesce(e.random_examined, FALSE) AS random_examined,
  coalesce(e.random_discrepant, FALSE) AS random_discrepant,
  e.outcome, e.msrp, coalesce(e.referred, FALSE) AS referred, e.selectors"""


def hit_facts(con: duckdb.DuckDBPyConnection) -> None:
    """`w_facts`: the facts of every shipment some rule matched (from `hits`)."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE w_facts AS SELECT {_FACT_COLUMNS}
        FROM (SELECT DISTINCT rid FROM hits) h JOIN w USING (rid)
        LEFT JOIN exam_facts e USING (shipment_id)""")


def _ensure_exam_facts(con: duckdb.DuckDBPyConnection) -> None:
    """Per-shipment exam facts, the same for every window: computed once per connection."""
    if not _exists(con, "exam_facts"):
        con.execute(f"CREATE TEMP TABLE exam_facts AS {_EXAM_FACTS}")


def match_rules(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], catalogue: Catalogue,
                folded: Mapping[str, str] | None = None) -> None:
    """Create `hits(rule, rid)` for `rules` (rule = index in the sequence) over the view `w`.

    One filtered scan per rule: DuckDB evaluates a WHERE clause leaf by leaf on the rows still
    selected, which measured twice as fast as evaluating every rule on every row in one pass.
    (Many rules go to the grouped engine instead.) Matches are kept per connection by predicate
    and window, since one command often backtests the same rules again (test, then its verdict).
    """
    con.execute("CREATE OR REPLACE TEMP TABLE hits (rule INTEGER, rid BIGINT)")
    con.execute("CREATE TEMP TABLE IF NOT EXISTS hit_cache (key VARCHAR, rid BIGINT)")
    window = con.execute("SELECT since, until, source FROM w_bounds").fetchall()[0]
    cached = {row[0] for row in con.execute("SELECT DISTINCT key FROM hit_cache").fetchall()}
    for index, rule in enumerate(rules):
        key = hashlib.sha256(repr((_plain_tree(rule.where), window)).encode()).hexdigest()
        if key not in cached:
            predicate, params = compile_sql(rule.where, catalogue, folded=folded or {})
            con.execute(f"INSERT INTO hit_cache SELECT ?, rid FROM w WHERE {predicate}", [key, *params])
            cached.add(key)
        con.execute("INSERT INTO hits SELECT ?::INTEGER, rid FROM hit_cache WHERE key = ?", [index, key])


def _plain_tree(node: Node) -> tuple:
    """The predicate without source locations, so the same condition has the same key."""
    match node:
        case Leaf(field=name, op=op, value=value):
            return ("leaf", name, op, value)
        case All(children) | AnyOf(children):
            return (type(node).__name__, tuple(_plain_tree(c) for c in children))
        case Not(child):
            return ("not", _plain_tree(child))
    raise TypeError(f"not a predicate node: {node!r}")


def drop_before(con: duckdb.DuckDBPyConnection, starts: Mapping[int, object]) -> None:
    """Delete each listed rule's hits on shipments that arrived before its own start date."""
    con.execute("CREATE OR REPLACE TEMP TABLE rule_starts (rule INTEGER, since DATE)")
    con.executemany("INSERT INTO rule_starts VALUES (?, ?)", [[i, d] for i, d in starts.items()])
    con.execute("""DELETE FROM hits WHERE EXISTS (
        SELECT 1 FROM rule_starts s JOIN w_facts f ON f.rid = hits.rid
        WHERE s.rule = hits.rule AND f.arrival_date < s.since)""")
