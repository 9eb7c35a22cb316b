"""The metric SQL, written once over the relations every engine builds in its namespace:

- `cells(cell, n, port, month, start, examined, discrepant, random_examined,
  random_discrepant, outcome, msrp, referred, selectors, first_method, referral_accepted,
  referral_outcome, w, w_var, w_sq, unweighted)`: the window's shipments in groups of `n` alike
  (the per-shipment engine: one row per matched or examined shipment, `cell` its row id, plus
  uncounted remainders with no cell; the grouped and Spark engines: one row per match set, time
  segment, port, month and exam facts). `start` is the arrival date, or the first day of the
  row's time segment; `w`, `w_var`, `w_sq` sum 1/p, 1/p² − 1/p and 1/p² over its exams with a
  selection probability p, `unweighted` counts those without one.
- `members(rule, cell)`: the cells each rule matches (from its own start date);
- `sizes(rule, n)`: each rule's targeted shipments in the window;
- `cell_totals(cell, n, d)`, `rule_ids(rule, rule_id)`, `udrs(rule)`: made by `Matches`.

SQL that DuckDB and Spark read alike (FILTER clauses, window functions, CAST, no QUALIFY or
GROUP BY ALL), with `{ns}` the namespace's table prefix (`bt_1.` in DuckDB, `bt_1_` in Spark;
executor.py) and the dialect's spellings (list membership, unnesting), so every engine computes
every metric the same way.
"""
from __future__ import annotations

from targeting.dialect import DUCKDB, Dialect

# The columns of `cells` besides cell, n, port, month and start: exam facts (from exam_facts)
# that shipments are grouped by, with their value for a shipment without an exam; then what is
# summed over a group, each as its value for one shipment with its exam facts `e` (NULL without
# an exam). The Spark engine builds `cells` from these, so a new column of exam_facts is one
# edit here (and in the DuckDB engines).
CELL_FACTS: dict[str, str] = {
    "examined": "FALSE", "discrepant": "FALSE", "random_examined": "FALSE",
    "random_discrepant": "FALSE", "outcome": "NULL", "referred": "FALSE", "selectors": "NULL",
    "first_method": "NULL", "referral_accepted": "FALSE", "referral_outcome": "NULL",
}
_ONE = "CAST(1 AS DOUBLE)"
CELL_SUMS: dict[str, str] = {
    "msrp": "e.msrp",
    "w": f"coalesce({_ONE} / e.propensity, 0)",
    "w_var": f"coalesce({_ONE} / (e.propensity * e.propensity) - {_ONE} / e.propensity, 0)",
    "w_sq": f"coalesce({_ONE} / (e.propensity * e.propensity), 0)",
    "unweighted": "CASE WHEN e.examined AND e.propensity IS NULL THEN 1 ELSE 0 END",
}


def counts(ns: str, dialect: Dialect = DUCKDB) -> str:
    """Per measured rule (`WHERE rule < ?`): every count of docs/metrics.md before any rate, and
    the weight sums of its estimate (backtest/estimate.py)."""
    total = "CAST(coalesce(sum(c.n) FILTER (WHERE {}), 0) AS BIGINT)"
    weight = f"CAST(coalesce({dialect.float_sum}(c.{{}}) FILTER (WHERE {{}}), 0) AS DOUBLE)"
    own = dialect.contains_sql("c.selectors", "r.rule_id")
    return f"""
SELECT r.rule,
  CAST(coalesce(sum(c.n), 0) AS BIGINT) AS targeted,
  {total.format("c.examined")} AS examined,
  {total.format("c.discrepant")} AS discrepant,
  {total.format("c.random_examined")} AS random_examined,
  {total.format("c.random_discrepant")} AS random_discrepant,
  {total.format("c.examined AND " + own)} AS own_examined,
  {total.format("c.discrepant AND " + own)} AS own_discrepant,
  count(DISTINCT c.port) AS ports_targeted,
  count(DISTINCT c.port) FILTER (WHERE c.discrepant) AS ports_with_hits,
  count(DISTINCT c.month) FILTER (WHERE c.discrepant) AS months_with_hits,
  {total.format("c.outcome = 'seizure'")} AS seizures,
  {total.format("c.outcome = 'abandonment'")} AS abandonments,
  {total.format("c.outcome = 'refused_entry'")} AS refused_entries,
  {total.format("c.outcome = 'other'")} AS other_outcomes,
  CAST(coalesce({dialect.float_sum}(c.msrp) FILTER (WHERE c.discrepant), 0) AS DOUBLE) AS msrp_total,
  {total.format("c.discrepant AND c.referred")} AS referrals,
  {total.format("c.discrepant AND c.referral_accepted")} AS referrals_accepted,
  {total.format("c.discrepant AND c.referral_outcome IS NOT NULL")} AS referrals_with_outcome,
  {weight.format("w", "c.examined")} AS est_w,
  {weight.format("w", "c.discrepant")} AS est_wy,
  {weight.format("w_var", "c.discrepant")} AS est_v1,
  {weight.format("w_var", "c.examined AND NOT c.discrepant")} AS est_v0,
  {weight.format("w_sq", "c.examined")} AS est_wsq,
  CAST(coalesce(sum(c.unweighted), 0) AS BIGINT) AS est_unweighted
FROM {ns}rule_ids r
LEFT JOIN {ns}members m ON m.rule = r.rule
LEFT JOIN {ns}cells c ON c.cell = m.cell
WHERE r.rule < ?
GROUP BY r.rule
"""


def expected(ns: str, dialect: Dialect = DUCKDB) -> str:
    """For lift within ports: per measured rule, Σ over its ports of its examined shipments
    there times the port's hit rate without the rule's own exams, and those examined shipments
    (ports where the rule selected every exam are left out)."""
    own = dialect.contains_sql("c.selectors", "r.rule_id")
    return f"""
WITH rule_ports AS (
  SELECT r.rule, c.port,
    sum(c.n) FILTER (WHERE c.examined) AS e,
    coalesce(sum(c.n) FILTER (WHERE c.examined AND {own}), 0) AS own_e,
    coalesce(sum(c.n) FILTER (WHERE c.discrepant AND {own}), 0) AS own_d
  FROM {ns}rule_ids r JOIN {ns}members m ON m.rule = r.rule
  JOIN {ns}cells c ON c.cell = m.cell
  WHERE r.rule < ? AND c.examined
  GROUP BY r.rule, c.port
),
ports AS (
  SELECT port, sum(n) FILTER (WHERE examined) AS e,
    coalesce(sum(n) FILTER (WHERE discrepant), 0) AS d
  FROM {ns}cells GROUP BY port
)
SELECT rp.rule,
  CAST({dialect.float_sum}(rp.e * (p.d - rp.own_d) / (p.e - rp.own_e)) AS DOUBLE)
    AS expected_discrepant,
  CAST(sum(rp.e) AS BIGINT) AS expected_examined
FROM rule_ports rp JOIN ports p ON p.port IS NOT DISTINCT FROM rp.port
WHERE p.e > rp.own_e
GROUP BY rp.rule
"""


def rule_counts(ns: str, dialect: Dialect = DUCKDB) -> str:
    """Counts, lift-within-ports terms, unique discrepant and the largest UDR overlap of each
    measured rule, in rule order, in one statement (four `?` for the measured count)."""
    return f"""
WITH c AS ({counts(ns, dialect)}), x AS ({expected(ns, dialect)}), u AS ({unique(ns)}),
o AS ({overlap(ns)})
SELECT c.*, x.expected_discrepant, x.expected_examined, u.unique_discrepant, o.max_overlap_id,
  o.max_overlap_jaccard
FROM c LEFT JOIN x ON x.rule = c.rule LEFT JOIN u ON u.rule = c.rule
LEFT JOIN o ON o.rule = c.rule
ORDER BY c.rule
"""


def selectors(ns: str, dialect: Dialect = DUCKDB) -> str:
    """Per measured rule, how many of its examined shipments each selector (a rule id in
    `selector_id`) chose."""
    return f"""
SELECT rule, selector, CAST(sum(n) AS BIGINT) AS n FROM (
  SELECT m.rule, c.n, {dialect.unnest_sql("c.selectors")} AS selector
  FROM {ns}members m JOIN {ns}cells c ON c.cell = m.cell
  WHERE m.rule < ? AND c.examined) s
GROUP BY rule, selector
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


# The columns of `baseline`: the counts and the weight sums of backtest/estimate.py.
BASELINE_SUMS = ("shipments", "examined", "discrepant", "random_examined", "random_discrepant",
                 "est_w", "est_wy", "est_v1", "est_v0", "est_wsq", "est_unweighted")


def _baseline_sums(dialect: Dialect) -> str:
    total = "CAST(coalesce(sum(n) FILTER (WHERE {}), 0) AS BIGINT)"
    weight = f"CAST(coalesce({dialect.float_sum}({{}}) FILTER (WHERE {{}}), 0) AS DOUBLE)"
    return f"""CAST(coalesce(sum(n), 0) AS BIGINT) AS shipments,
  {total.format("examined")} AS examined,
  {total.format("discrepant")} AS discrepant,
  {total.format("random_examined")} AS random_examined,
  {total.format("random_discrepant")} AS random_discrepant,
  {weight.format("w", "examined")} AS est_w, {weight.format("w", "discrepant")} AS est_wy,
  {weight.format("w_var", "discrepant")} AS est_v1,
  {weight.format("w_var", "examined AND NOT discrepant")} AS est_v0,
  {weight.format("w_sq", "examined")} AS est_wsq,
  CAST(coalesce(sum(unweighted), 0) AS BIGINT) AS est_unweighted"""


def baseline(ns: str, dialect: Dialect = DUCKDB) -> str:
    """The counts and weight sums of every shipment in the window from a start date on (NULL:
    all): the baseline and the population's estimate."""
    return f"""
SELECT {_baseline_sums(dialect)}
FROM {ns}cells WHERE CAST(? AS DATE) IS NULL OR start >= CAST(? AS DATE)
"""


def baseline_by_start(ns: str, dialect: Dialect = DUCKDB) -> str:
    """`baseline`'s counts and weight sums per `start` (arrival day or time segment), earliest
    first: every baseline from a start date on is a sum of these."""
    return f"""
SELECT start, {_baseline_sums(dialect)}
FROM {ns}cells GROUP BY start ORDER BY start
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
  CASE WHEN x.by_udr THEN 'udr' WHEN x.by_query THEN 'query_only' ELSE 'none' END AS category,
  c.random_discrepant, c.referred, c.referral_accepted, c.referral_outcome, c.w, c.w_var, c.w_sq,
  c.unweighted
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
