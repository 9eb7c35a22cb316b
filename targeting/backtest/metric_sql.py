"""The metric SQL, written once over the relations every engine builds in its namespace:

- `cells(cell, n, port, month, start, examined, discrepant, random_examined,
  random_discrepant, outcome, msrp, referred, selectors, first_method)`: the window's
  shipments in groups of `n` alike (the per-shipment engine: one row per matched or examined
  shipment, `cell` its row id, plus uncounted remainders with no cell; the grouped engine: one
  row per match set, time segment, port, month and exam facts). `start` is the arrival date, or
  the first day of the row's time segment.
- `members(rule, cell)`: the cells each rule matches (from its own start date);
- `sizes(rule, n)`: each rule's targeted shipments in the window;
- `cell_totals(cell, n, d)`, `rule_ids(rule, rule_id)`, `udrs(rule)`: made by `Matches`.

SQL that DuckDB and Spark read alike (FILTER clauses, window functions, CAST, no QUALIFY), with
`{ns}` the namespace's table prefix (`bt_1.` in DuckDB, `bt_1_` in Spark; executor.py) and the
dialect's list-membership test, so every engine computes every metric the same way.
"""
from __future__ import annotations

from targeting.dialect import DUCKDB, Dialect

# The columns of `cells` besides cell, n, port, month and start: exam facts (from exam_facts)
# that shipments are grouped by, with their value for a shipment without an exam, then amounts
# summed over a group. The Spark engine builds `cells` from these, so a new column of exam_facts
# is one edit here (and in the DuckDB engines).
CELL_FACTS: dict[str, str] = {
    "examined": "FALSE", "discrepant": "FALSE", "random_examined": "FALSE",
    "random_discrepant": "FALSE", "outcome": "NULL", "referred": "FALSE", "selectors": "NULL",
    "first_method": "NULL",
}
CELL_SUMS = ("msrp",)


def counts(ns: str, dialect: Dialect = DUCKDB) -> str:
    """Per measured rule (`WHERE rule < ?`): every count of docs/metrics.md before any rate."""
    total = "CAST(coalesce(sum(c.n) FILTER (WHERE {}), 0) AS BIGINT)"
    return f"""
WITH port_rate AS (
  SELECT port, (sum(n) FILTER (WHERE discrepant)) / sum(n) AS rate
  FROM {ns}cells WHERE examined GROUP BY port
)
SELECT r.rule,
  CAST(coalesce(sum(c.n), 0) AS BIGINT) AS targeted,
  {total.format("c.examined")} AS examined,
  {total.format("c.discrepant")} AS discrepant,
  {total.format("c.random_examined")} AS random_examined,
  {total.format("c.random_discrepant")} AS random_discrepant,
  {total.format("c.examined AND " + dialect.contains_sql("c.selectors", "r.rule_id"))} AS self_selected,
  sum(c.n * pr.rate) FILTER (WHERE c.examined) AS expected_discrepant,
  count(DISTINCT c.port) AS ports_targeted,
  count(DISTINCT c.port) FILTER (WHERE c.discrepant) AS ports_with_hits,
  count(DISTINCT c.month) FILTER (WHERE c.discrepant) AS months_with_hits,
  {total.format("c.outcome = 'seizure'")} AS seizures,
  {total.format("c.outcome = 'abandonment'")} AS abandonments,
  {total.format("c.outcome = 'refused_entry'")} AS refused_entries,
  {total.format("c.outcome = 'other'")} AS other_outcomes,
  CAST(coalesce(sum(c.msrp) FILTER (WHERE c.discrepant), 0) AS DOUBLE) AS msrp_total,
  {total.format("c.discrepant AND c.referred")} AS referrals
FROM {ns}rule_ids r
LEFT JOIN {ns}members m ON m.rule = r.rule
LEFT JOIN {ns}cells c ON c.cell = m.cell
LEFT JOIN port_rate pr ON pr.port = c.port
WHERE r.rule < ?
GROUP BY r.rule
"""


def unique(ns: str) -> str:
    """Discrepant shipments of each measured rule that no reference UDR but itself matches."""
    return f"""
SELECT a.rule, CAST(sum(t.d) AS BIGINT) AS unique_discrepant
FROM {ns}members a JOIN {ns}cell_totals t ON t.cell = a.cell
WHERE a.rule < ? AND t.d > 0 AND NOT EXISTS (
  SELECT 1 FROM {ns}members u JOIN {ns}udrs d ON d.rule = u.rule
  WHERE u.cell = a.cell AND u.rule <> a.rule)
GROUP BY a.rule
"""


def _pairs(ns: str, left: str, right: str) -> str:
    """Shipments shared by each pair of rules (left rule, right rule) as `pairs(rule, other, n)`."""
    return f"""pairs AS (
  SELECT a.rule, b.rule AS other, sum(t.n) AS n
  FROM {ns}members a JOIN {ns}members b ON a.cell = b.cell AND a.rule <> b.rule
  JOIN {ns}cell_totals t ON t.cell = a.cell
  WHERE {left} AND b.rule IN (SELECT rule FROM {ns}udrs) AND {right}
  GROUP BY a.rule, b.rule
)"""


def overlap(ns: str) -> str:
    """Each measured rule's active UDR with the highest Jaccard index (ties: smallest id)."""
    return f"""
WITH {_pairs(ns, "a.rule < ?", "TRUE")},
scored AS (
  SELECT p.rule, r.rule_id AS max_overlap_id,
    CAST(p.n / (sa.n + sb.n - p.n) AS DOUBLE) AS max_overlap_jaccard,
    row_number() OVER (PARTITION BY p.rule ORDER BY p.n / (sa.n + sb.n - p.n) DESC, r.rule_id) AS k
  FROM pairs p JOIN {ns}sizes sa ON sa.rule = p.rule JOIN {ns}sizes sb ON sb.rule = p.other
  JOIN {ns}rule_ids r ON r.rule = p.other
)
SELECT rule, max_overlap_id, max_overlap_jaccard FROM scored WHERE k = 1
"""


def containment(ns: str) -> str:
    """For every reference UDR, the largest share of its targets another one also matches."""
    return f"""
WITH {_pairs(ns, f"a.rule IN (SELECT rule FROM {ns}udrs)", "TRUE")},
scored AS (
  SELECT p.rule, r.rule_id AS other_id, CAST(p.n / z.n AS DOUBLE) AS share,
    row_number() OVER (PARTITION BY p.rule ORDER BY p.n / z.n DESC, r.rule_id) AS k
  FROM pairs p JOIN {ns}sizes z ON z.rule = p.rule JOIN {ns}rule_ids r ON r.rule = p.other
)
SELECT rule, other_id, share FROM scored WHERE k = 1
"""


def overlaps_of(ns: str) -> str:
    """The reference UDRs sharing shipments with one rule: shared count, Jaccard index, and the
    share of each side's targets the other matches (containment both ways)."""
    return f"""
WITH {_pairs(ns, "a.rule = ?", "TRUE")}
SELECT r.rule_id AS udr, CAST(p.n AS BIGINT) AS shared,
  CAST(p.n / (sa.n + sb.n - p.n) AS DOUBLE) AS jaccard,
  CAST(p.n / sa.n AS DOUBLE) AS share_of_rule,
  CAST(p.n / sb.n AS DOUBLE) AS share_of_udr
FROM pairs p JOIN {ns}sizes sa ON sa.rule = p.rule JOIN {ns}sizes sb ON sb.rule = p.other
JOIN {ns}rule_ids r ON r.rule = p.other
ORDER BY jaccard DESC, udr
LIMIT ?
"""


def baseline(ns: str) -> str:
    """(shipments, examined, discrepant, random examined, random discrepant) over the window's
    shipments from a start date on (NULL: all)."""
    total = "CAST(coalesce(sum(n) FILTER (WHERE {}), 0) AS BIGINT)"
    return f"""
SELECT CAST(coalesce(sum(n), 0) AS BIGINT), {total.format("examined")}, {total.format("discrepant")},
  {total.format("random_examined")}, {total.format("random_discrepant")}
FROM {ns}cells WHERE CAST(? AS DATE) IS NULL OR start >= CAST(? AS DATE)
"""


def series(ns: str, by: str) -> str:
    """Targeted, examined and discrepant of one rule per `by` (month or port)."""
    total = "CAST(coalesce(sum(c.n) FILTER (WHERE {}), 0) AS BIGINT)"
    return f"""
SELECT c.{by}, CAST(sum(c.n) AS BIGINT) AS targeted, {total.format("c.examined")} AS examined,
  {total.format("c.discrepant")} AS discrepant
FROM {ns}members m JOIN {ns}cells c ON c.cell = m.cell
WHERE m.rule = ? GROUP BY c.{by}
"""


def discrepant_cells(ns: str) -> str:
    """Each group of discrepant shipments: how many, their outcome, how the first discrepant exam
    was selected, and whether an active UDR, only queries, or no rule matched them."""
    return f"""
WITH matched AS (
  SELECT m.cell, bool_or(k.kind = 'udr') AS by_udr, bool_or(k.kind = 'query') AS by_query
  FROM {ns}members m JOIN {ns}rule_kinds k ON k.rule = m.rule GROUP BY m.cell
)
SELECT c.cell, c.n, c.outcome, coalesce(c.first_method, 'unrecorded') AS selection_method,
  CASE WHEN x.by_udr THEN 'udr' WHEN x.by_query THEN 'query_only' ELSE 'none' END AS category
FROM {ns}cells c LEFT JOIN matched x ON x.cell = c.cell
WHERE c.discrepant
"""


def discrepant_priorities(ns: str) -> str:
    """(cell, n, priority) for discrepant shipments matched by an active rule with the tag."""
    return f"""
SELECT c.cell, c.n, p.priority FROM {ns}cells c
JOIN (SELECT DISTINCT m.cell, p.priority FROM {ns}members m
      JOIN {ns}rule_priorities p ON p.rule = m.rule) p ON p.cell = c.cell
WHERE c.discrepant
"""
