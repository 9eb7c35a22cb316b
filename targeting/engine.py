"""Run many rules over the window's shipments and keep who matched what.

The result lives in the DuckDB connection as two temp tables the metrics read:
- `w_facts(rid, shipment_id, port, month, examined, discrepant, random_examined,
   random_discrepant, outcome, msrp, referred, selectors)`: one row per shipment in the window;
- `hits(rule INTEGER, rid INTEGER)`: one row per (rule, matched shipment).
Rules are evaluated in batches, each batch in one scan of the shipments.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import duckdb

from .compile_sql import compile_sql, folded_sql
from .model import Catalogue, Rule, leaves
from .window import Window

BATCH = 48

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


def prepare_window(con: duckdb.DuckDBPyConnection, window: Window, source: str = "manifest",
                   facts: bool = True) -> None:
    """Create `w` (the window's rows of `source` with a rid), `exam_facts` and, with `facts`,
    `w_facts` (one row of exam facts per shipment in the window).

    Skipped when the connection already holds them for the same window and source, since
    one command often backtests several rule sets over one window.
    """
    if source not in ("manifest", "manifest_f"):
        raise ValueError(f"unknown source table {source!r}")
    key = f"{window.since}|{window.until}|{source}|{_columns_signature(con, source)}|{facts}"
    if _exists(con, "w_key") and con.execute("SELECT key FROM w_key").fetchall() == [(key,)]:
        return
    _ensure_exam_facts(con)
    con.execute("CREATE OR REPLACE TEMP TABLE w_bounds AS SELECT ?::DATE AS since, ?::DATE AS until",
                [window.since, window.until])
    # A view, not a copy: rules scan the source once, filtered to the window.
    rid = f'm."{RID}"' if source == "manifest_f" else "m.rowid"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW w AS SELECT {rid} AS rid, m.* FROM {source} m
        WHERE m.arrival_date BETWEEN (SELECT since FROM w_bounds) AND (SELECT until FROM w_bounds)""")
    if facts:
        _window_facts(con)
    con.execute("CREATE OR REPLACE TEMP TABLE w_key AS SELECT ?::VARCHAR AS key", [key])


def _window_facts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE OR REPLACE TEMP TABLE w_facts AS
        SELECT w.rid, w.shipment_id, w.port_code AS port, strftime(w.arrival_date, '%Y-%m') AS month,
          w.arrival_date, coalesce(e.examined, FALSE) AS examined,
          coalesce(e.discrepant, FALSE) AS discrepant,
          coalesce(e.random_examined, FALSE) AS random_examined,
          coalesce(e.random_discrepant, FALSE) AS random_discrepant,
          e.outcome, e.msrp, coalesce(e.referred, FALSE) AS referred, e.selectors
        FROM w LEFT JOIN exam_facts e USING (shipment_id)""")


def _ensure_exam_facts(con: duckdb.DuckDBPyConnection) -> None:
    """Per-shipment exam facts, the same for every window: computed once per connection."""
    if not _exists(con, "exam_facts"):
        con.execute(f"CREATE TEMP TABLE exam_facts AS {_EXAM_FACTS}")


def _columns_signature(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Changes when `ensure_folded` rebuilds the source with more columns."""
    return str(len(_columns(con, table)))


def match_rules(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], catalogue: Catalogue,
                folded: Mapping[str, str] | None = None) -> None:
    """Create `hits(rule, rid)` for `rules` (rule = index in the sequence) over table `w`."""
    con.execute("CREATE OR REPLACE TEMP TABLE hits (rule INTEGER, rid BIGINT)")
    for start in range(0, len(rules), BATCH):
        sql, params = _batch_sql(rules[start:start + BATCH], start, catalogue, folded or {})
        con.execute(f"INSERT INTO hits {sql}", params)


def _batch_sql(rules: Sequence[Rule], offset: int, catalogue: Catalogue,
               folded: Mapping[str, str]) -> tuple[str, list]:
    cases, params = [], []
    for i, rule in enumerate(rules):
        predicate, rule_params = compile_sql(rule.where, catalogue, folded=folded)
        cases.append(f"CASE WHEN {predicate} THEN {offset + i} END")
        params += rule_params
    flags = f"[{', '.join(cases)}]::INTEGER[]"
    sql = f"SELECT rule, rid FROM (SELECT rid, unnest({flags}) AS rule FROM w) WHERE rule IS NOT NULL"
    return sql, params


def drop_before(con: duckdb.DuckDBPyConnection, starts: Mapping[int, object]) -> None:
    """Delete each listed rule's hits on shipments that arrived before its own start date."""
    con.execute("CREATE OR REPLACE TEMP TABLE rule_starts (rule INTEGER, since DATE)")
    con.executemany("INSERT INTO rule_starts VALUES (?, ?)", [[i, d] for i, d in starts.items()])
    con.execute("""DELETE FROM hits WHERE EXISTS (
        SELECT 1 FROM rule_starts s JOIN w_facts f ON f.rid = hits.rid
        WHERE s.rule = hits.rule AND f.arrival_date < s.since)""")
