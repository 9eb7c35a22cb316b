"""Run many rules over the window's shipments and keep who matched what.

The result lives in the DuckDB connection as two temp tables the metrics read:
- `w_facts(rid, shipment_id, port, month, examined, discrepant, random_examined,
   random_discrepant, outcome, msrp, referred, selectors)`: one row per shipment in the window;
- `hits(rule INTEGER, rid INTEGER)`: one row per (rule, matched shipment).
Rules are evaluated in batches, each batch in one scan of the shipments.
"""
from __future__ import annotations

from typing import Sequence

import duckdb

from .compile_sql import compile_sql
from .model import Catalogue, Rule
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
  coalesce(bool_or(result = 'discrepant' AND referred_to_ice), FALSE) AS referred,
  list(DISTINCT selector_id) FILTER (WHERE selector_id IS NOT NULL) AS selectors
FROM exams GROUP BY shipment_id
"""


def prepare_window(con: duckdb.DuckDBPyConnection, window: Window) -> None:
    """Create `w` (the window's manifest rows with a dense rid) and `w_facts`."""
    con.execute("CREATE OR REPLACE TEMP TABLE w AS SELECT (row_number() OVER ())::INTEGER AS rid, m.* "
                "FROM manifest m WHERE m.arrival_date BETWEEN ? AND ?", [window.since, window.until])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE w_facts AS
        SELECT w.rid, w.shipment_id, w.port_code AS port, strftime(w.arrival_date, '%Y-%m') AS month,
          coalesce(e.examined, FALSE) AS examined, coalesce(e.discrepant, FALSE) AS discrepant,
          coalesce(e.random_examined, FALSE) AS random_examined,
          coalesce(e.random_discrepant, FALSE) AS random_discrepant,
          e.outcome, e.msrp, coalesce(e.referred, FALSE) AS referred, e.selectors
        FROM w LEFT JOIN ({_EXAM_FACTS}) e USING (shipment_id)""")


def match_rules(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], catalogue: Catalogue) -> None:
    """Create `hits(rule, rid)` for `rules` (rule = index in the sequence) over table `w`."""
    con.execute("CREATE OR REPLACE TEMP TABLE hits (rule INTEGER, rid INTEGER)")
    for start in range(0, len(rules), BATCH):
        sql, params = _batch_sql(rules[start:start + BATCH], start, catalogue)
        con.execute(f"INSERT INTO hits {sql}", params)


def _batch_sql(rules: Sequence[Rule], offset: int, catalogue: Catalogue) -> tuple[str, list]:
    cases, params = [], []
    for i, rule in enumerate(rules):
        predicate, rule_params = compile_sql(rule.where, catalogue)
        cases.append(f"CASE WHEN {predicate} THEN {offset + i} END")
        params += rule_params
    flags = f"[{', '.join(cases)}]::INTEGER[]"
    sql = f"SELECT rule, rid FROM (SELECT rid, unnest({flags}) AS rule FROM w) WHERE rule IS NOT NULL"
    return sql, params
