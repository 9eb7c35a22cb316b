"""The tables every backtest reads, built once per dataset (and kept in the store):

- `manifest_f`: the manifest with a row id (`__rid`) and a folded copy of every text column
  (`__folded__<name>`), so rules compare text without folding it per leaf and per run;
- `exam_facts`: one row per examined shipment with its row id, port, month, arrival date and
  the facts the metrics need (docs/metrics.md);
- `arrivals`: shipments per arrival day and port, so a baseline never scans the manifest.
"""
from __future__ import annotations

import duckdb

from targeting.compile.sql import folded_sql
from targeting.data.contract import ident
from targeting.dialect import DUCKDB, Dialect
from targeting.rules.model import Catalogue

FOLD_PREFIX = "__folded__"
RID = "__rid"  # a stable row number in manifest_f, the key of every match table
# The row id: DuckDB numbers the rows once and keeps them in the store; Spark would need a
# window over one partition to number billions of rows, and keeps no store, so there the key is
# the shipment id itself (unique: the contract checks it).
_RID_SQL = {"duckdb": "row_number() OVER ()", "spark": "shipment_id"}
FACT_COLUMNS = ("examined", "discrepant", "random_examined", "random_discrepant", "outcome",
                "msrp", "referred", "selectors", "first_method")

# One row per examined shipment. Outcome precedence makes outcomes a partition of discrepant
# shipments: seizure > refused entry > abandonment > other. `first_method` is how its first
# discrepant exam (by exam_date, then exam_id) was selected, for coverage. Two aggregates are
# spelled per engine (_SELECTORS, _FIRST_METHOD): Spark's min_by orders a struct's NULL fields
# first, DuckDB's arg_min last, hence the explicit IS NULL keys.
_SELECTORS = {
    "duckdb": "list(DISTINCT selector_id) FILTER (WHERE selector_id IS NOT NULL)",
    "spark": "array_sort(collect_set(selector_id))",
}
_FIRST_METHOD = {
    "duckdb": "arg_min(coalesce(selection_method, 'unrecorded'), (exam_date, exam_id))",
    "spark": ("min_by(coalesce(selection_method, 'unrecorded'), "
              "struct(exam_date IS NULL, exam_date, exam_id IS NULL, exam_id))"),
}
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
  {selectors} AS selectors,
  {first_method} FILTER (WHERE result = 'discrepant') AS first_method
FROM exams GROUP BY shipment_id
"""


def manifest_sql(catalogue: Catalogue, dialect: Dialect = DUCKDB) -> str:
    """`manifest_f`'s query: the manifest with its row id and every text column folded."""
    text = sorted(name for name, kind in catalogue.items() if kind == "text")
    folded = "".join(f", {folded_sql(name, catalogue, dialect)} AS {ident(FOLD_PREFIX + name)}"
                     for name in text)
    return f"SELECT {_RID_SQL[dialect.name]} AS {ident(RID)}, *{folded} FROM manifest"


def exam_facts_sql(dialect: Dialect = DUCKDB) -> str:
    """`exam_facts`: keyed by rid, so joining facts to matched shipments is an integer join on
    a few percent of the rows, never a string join over the manifest."""
    facts = _EXAM_FACTS.format(selectors=_SELECTORS[dialect.name],
                               first_method=_FIRST_METHOD[dialect.name])
    return f"""SELECT m.{ident(RID)} AS rid, e.shipment_id, m.port_code AS port,
        {dialect.month_sql("m.arrival_date")} AS month, m.arrival_date,
        {", ".join(f"e.{c}" for c in FACT_COLUMNS)}
        FROM ({facts}) e JOIN manifest_f m ON m.shipment_id = e.shipment_id"""


ARRIVALS_SQL = """SELECT arrival_date, port_code AS port, count(*) AS shipments
    FROM manifest_f GROUP BY arrival_date, port_code"""


def prepare(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, temp: bool = False) -> None:
    """Build manifest_f (replacing the table `manifest` with a view of it), exam_facts and
    arrivals in `con`."""
    kind = "TEMP TABLE" if temp else "TABLE"
    con.execute(f"CREATE {kind} manifest_f AS {manifest_sql(catalogue)}")
    con.execute("DROP TABLE manifest")
    con.execute(f"CREATE {kind} exam_facts AS {exam_facts_sql()}")
    con.execute(f"CREATE {kind} arrivals AS {ARRIVALS_SQL}")


def internal_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The columns of `manifest_f` that are not the manifest's own (row id, folded text)."""
    return [r[0] for r in con.execute("DESCRIBE manifest_f").fetchall()
            if r[0] == RID or r[0].startswith(FOLD_PREFIX)]


def manifest_view_sql(source: str, con: duckdb.DuckDBPyConnection) -> str:
    """A query over `source` (manifest_f or store.manifest_f) giving the manifest's own columns."""
    hidden = [r[0] for r in con.execute(f"DESCRIBE {source}").fetchall()
              if r[0] == RID or r[0].startswith(FOLD_PREFIX)]
    exclude = f" EXCLUDE ({', '.join(ident(c) for c in hidden)})" if hidden else ""
    return f"SELECT *{exclude} FROM {source}"
