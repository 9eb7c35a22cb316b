"""The tables every backtest reads, built once per dataset (and kept in the store):

- `manifest_f`: a view of the manifest with a row id (`__rid`), the key of every match table;
- `exam_facts`: one row per examined shipment with its row id, port, month, arrival date and
  the facts the metrics need (docs/metrics.md);
- `arrivals`: shipments per arrival day and port, so a baseline never scans the manifest.
"""
from __future__ import annotations

import duckdb

from targeting.data.contract import ident
from targeting.dialect import DUCKDB, Dialect

RID = "__rid"  # a stable row number in manifest_f, the key of every match table
# The row id: DuckDB numbers the rows once and keeps them in the store; Spark would need a
# window over one partition to number billions of rows, and keeps no store, so there the key is
# the shipment id itself (unique: the contract checks it).
_RID_SQL = {"duckdb": "rowid", "spark": "shipment_id"}
FACT_COLUMNS = ("examined", "discrepant", "random_examined", "random_discrepant", "outcome",
                "msrp", "referred", "selectors", "first_method", "propensity",
                "referral_accepted", "referral_outcome")

# One row per examined shipment. Outcome precedence makes outcomes a partition of discrepant
# shipments: seizure > refused entry > abandonment > other. `first_method` is how its first
# discrepant exam (by exam_date, then exam_id) was selected, for coverage. `propensity` is the
# selection probability logged with its first exam that has one: the probability, fixed at
# arrival, that the shipment would be examined at all. `referral_accepted` and `referral_outcome`
# describe a discrepant shipment's referral (the first one with an outcome). The "first" of each
# is spelled per engine (Dialect.first_sql), as is the list of selectors.
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
  {first_method} AS first_method,
  {propensity} AS propensity,
  coalesce(bool_or(result = 'discrepant') AND bool_or(referral_accepted), FALSE)
    AS referral_accepted,
  {referral_outcome} AS referral_outcome
FROM exams GROUP BY shipment_id
"""


def manifest_f_sql(source: str = "manifest", dialect: Dialect = DUCKDB) -> str:
    """The manifest with its row id."""
    return f"SELECT {_RID_SQL[dialect.name]} AS {ident(RID)}, * FROM {source}"


def exam_facts_sql(dialect: Dialect = DUCKDB) -> str:
    """`exam_facts`: keyed by rid, so joining facts to matched shipments is an integer join on
    a few percent of the rows, never a string join over the manifest."""
    discrepant = "result = 'discrepant'"
    facts = _EXAM_FACTS.format(
        selectors=dialect.distinct_list_sql("selector_id"),
        first_method=dialect.first_sql("coalesce(selection_method, 'unrecorded')",
                                       ("exam_date", "exam_id"), discrepant),
        propensity=dialect.first_sql("selection_probability", ("exam_date", "exam_id")),
        referral_outcome=dialect.first_sql("referral_outcome",
                                           ("referral_date", "exam_date", "exam_id"), discrepant))
    return f"""SELECT m.{ident(RID)} AS rid, e.shipment_id, m.port_code AS port,
        {dialect.month_sql("m.arrival_date")} AS month, m.arrival_date,
        {", ".join(f"e.{c}" for c in FACT_COLUMNS)}
        FROM ({facts}) e JOIN manifest_f m ON m.shipment_id = e.shipment_id"""


ARRIVALS_SQL = """SELECT arrival_date, port_code AS port, count(*) AS shipments
    FROM manifest_f GROUP BY arrival_date, port_code"""


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Build manifest_f (a view), exam_facts and arrivals over the typed `manifest` table."""
    con.execute(f"CREATE VIEW manifest_f AS {manifest_f_sql()}")
    con.execute(f"CREATE TABLE exam_facts AS {exam_facts_sql()}")
    con.execute(f"CREATE TABLE arrivals AS {ARRIVALS_SQL}")


def internal_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The columns of `manifest_f` that are not the manifest's own (the row id)."""
    return [RID]
