"""The numbers: counts from `hits`, `w_facts` and `w_exams` (see engine.py), then rates and intervals.

Every definition is written in docs/metrics.md; this module implements exactly those.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb
import polars as pl

from targeting.backtest.shipments import RID, internal_columns
from targeting.backtest.window import Window
from targeting.db import fetch_frame, one, register_frame
from targeting.rules.model import Rule

Z95 = 1.959963984540054

SCOREBOARD_COLUMNS = [
    "id", "kind", "port", "status", "targeted", "examined", "discrepant", "hit_rate",
    "hit_rate_low", "hit_rate_high", "lift", "lift_within_ports", "random_examined",
    "random_discrepant", "random_hit_rate", "self_selected_share", "exam_rate", "flags_per_day",
    "ports_targeted", "ports_with_hits", "months_with_hits", "unique_discrepant", "max_overlap_id",
    "max_overlap_jaccard", "seizures", "abandonments", "refused_entries", "other_outcomes",
    "msrp_total", "referrals",
]


def wilson(discrepant: int, examined: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval for discrepant/examined; (None, None) when nothing was examined."""
    if examined == 0:
        return None, None
    if discrepant in (0, examined):  # exact ends, free of rounding
        return wilson_bounds_at_edge(discrepant, examined, z)
    p = discrepant / examined
    denom = 1 + z * z / examined
    centre = (p + z * z / (2 * examined)) / denom
    half = z * math.sqrt(p * (1 - p) / examined + z * z / (4 * examined * examined)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_bounds_at_edge(discrepant: int, examined: int, z: float = Z95) -> tuple[float, float]:
    """Wilson bounds when nothing or everything examined was discrepant: one end is exact."""
    other = examined / (examined + z * z)
    return (0.0, 1 - other) if discrepant == 0 else (other, 1.0)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def baseline(con: duckdb.DuckDBPyConnection, since: object | None = None) -> dict:
    """Counts and hit rates over every shipment in the window (from `since`, when given)."""
    # Shipments per arrival day (a small table: see engine.ensure_exam_facts), not the manifest.
    row = one(con, """SELECT
        (SELECT coalesce(sum(shipments), 0)::BIGINT FROM arrivals
         WHERE arrival_date BETWEEN (SELECT since FROM w_bounds) AND (SELECT until FROM w_bounds)
           AND (?::DATE IS NULL OR arrival_date >= ?::DATE)),
        count(*) FILTER (examined), count(*) FILTER (discrepant),
        count(*) FILTER (random_examined), count(*) FILTER (random_discrepant)
        FROM w_exams WHERE ?::DATE IS NULL OR arrival_date >= ?::DATE""", [since] * 4)
    return baseline_from(row)


def baseline_from(row: Sequence[int]) -> dict:
    """The baseline dict from (shipments, examined, discrepant, random examined, random discrepant)."""
    shipments, examined, discrepant, r_exam, r_disc = row
    return {"shipments": shipments, "examined": examined, "discrepant": discrepant,
            "hit_rate": ratio(discrepant, examined), "random_examined": r_exam,
            "random_discrepant": r_disc, "random_hit_rate": ratio(r_disc, r_exam)}


def _register_rules(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], udr_idx: Sequence[int]) -> None:
    frame = pl.DataFrame({"rule": list(range(len(rules))), "rule_id": [r.id for r in rules]},
                         schema={"rule": pl.Int32, "rule_id": pl.String})
    register_frame(con, "rule_ids_view", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE rule_ids AS SELECT * FROM rule_ids_view")
    con.unregister("rule_ids_view")
    con.execute("CREATE OR REPLACE TEMP TABLE udrs (rule INTEGER)")
    if udr_idx:
        con.executemany("INSERT INTO udrs VALUES (?)", [[i] for i in udr_idx])


_COUNTS = """
WITH port_rate AS (
  SELECT port, count(*) FILTER (discrepant) / count(*) AS rate FROM w_exams GROUP BY port
)
SELECT r.rule,
  count(f.rid) AS targeted,
  count(f.rid) FILTER (f.examined) AS examined,
  count(f.rid) FILTER (f.discrepant) AS discrepant,
  count(f.rid) FILTER (f.random_examined) AS random_examined,
  count(f.rid) FILTER (f.random_discrepant) AS random_discrepant,
  count(f.rid) FILTER (f.examined AND list_contains(f.selectors, r.rule_id)) AS self_selected,
  sum(pr.rate) FILTER (f.examined) AS expected_discrepant,
  count(DISTINCT f.port) AS ports_targeted,
  count(DISTINCT f.port) FILTER (f.discrepant) AS ports_with_hits,
  count(DISTINCT f.month) FILTER (f.discrepant) AS months_with_hits,
  count(f.rid) FILTER (f.outcome = 'seizure') AS seizures,
  count(f.rid) FILTER (f.outcome = 'abandonment') AS abandonments,
  count(f.rid) FILTER (f.outcome = 'refused_entry') AS refused_entries,
  count(f.rid) FILTER (f.outcome = 'other') AS other_outcomes,
  coalesce(sum(f.msrp) FILTER (f.discrepant), 0) AS msrp_total,
  count(f.rid) FILTER (f.discrepant AND f.referred) AS referrals
FROM rule_ids r
LEFT JOIN hits h ON h.rule = r.rule
LEFT JOIN w_facts f ON f.rid = h.rid
LEFT JOIN port_rate pr ON pr.port = f.port
WHERE r.rule < $requested
GROUP BY r.rule
"""

# Discrepant hits that no active UDR other than the rule itself matches.
_UNIQUE = """
SELECT h.rule, count(*) AS unique_discrepant
FROM hits h JOIN w_facts f ON f.rid = h.rid AND f.discrepant
WHERE h.rule < $requested AND NOT EXISTS (SELECT 1 FROM hits u JOIN udrs USING (rule) WHERE u.rid = h.rid AND u.rule <> h.rule)
GROUP BY h.rule
"""

# Jaccard index of every rule's targeted set with every active UDR's (other than itself);
# the highest wins, ties go to the smallest id.
_OVERLAP = """
WITH sizes AS (SELECT rule, n FROM rule_sizes),
inter AS (
  SELECT a.rule AS rule, b.rule AS udr, count(*) AS n
  FROM hits a JOIN hits b ON a.rid = b.rid AND a.rule <> b.rule
  WHERE b.rule IN (SELECT rule FROM udrs) AND a.rule < $requested
  GROUP BY a.rule, b.rule
)
SELECT i.rule, r.rule_id AS max_overlap_id, i.n / (sa.n + sb.n - i.n) AS max_overlap_jaccard
FROM inter i JOIN sizes sa ON sa.rule = i.rule JOIN sizes sb ON sb.rule = i.udr
JOIN rule_ids r ON r.rule = i.udr
QUALIFY row_number() OVER (PARTITION BY i.rule ORDER BY max_overlap_jaccard DESC, r.rule_id) = 1
"""


def register_rules(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], udr_idx: Sequence[int]) -> None:
    """`rule_ids(rule, rule_id)` and `udrs(rule)`: the tables every count query joins."""
    _register_rules(con, rules, udr_idx)


def rule_counts(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], udr_idx: Sequence[int],
                requested: int) -> pl.DataFrame:
    """Counts of the first `requested` rules (one row each, in order) from per-shipment `hits`,
    before any rate. The other rules are the reference UDRs, needed only for overlap."""
    _register_rules(con, rules, udr_idx)
    params = {"requested": requested}
    return combine_counts(*(fetch_frame(con, sql, params) for sql in (_COUNTS, _UNIQUE, _OVERLAP)),
                          bool(udr_idx))


def combine_counts(counts: pl.DataFrame, unique: pl.DataFrame, overlap: pl.DataFrame,
                   has_udrs: bool) -> pl.DataFrame:
    """One frame per rule: counts, unique discrepant (0 when none) and the largest UDR overlap."""
    frame = (counts.join(unique, on="rule", how="left").join(overlap, on="rule", how="left")
             .with_columns(pl.col("unique_discrepant").fill_null(0))
             .sort("rule"))
    if has_udrs:
        frame = frame.with_columns(pl.col("max_overlap_jaccard").fill_null(0.0))
    return frame


def scoreboard(counts: pl.DataFrame, rules: Sequence[Rule], base: dict, window: Window) -> pl.DataFrame:
    """Derive every rate of docs/metrics.md from the counts; one row per rule, JSON column order."""
    rows = []
    for rule, row in zip(rules, counts.iter_rows(named=True)):
        rows.append(_row(rule, row, base, window))
    return pl.DataFrame(rows, schema=_SCHEMA, orient="row") if rows else pl.DataFrame(schema=_SCHEMA)


def _row(rule: Rule, c: dict, base: dict, window: Window) -> dict:
    low, high = wilson(c["discrepant"], c["examined"])
    hit_rate = ratio(c["discrepant"], c["examined"])
    expected_rate = ratio(c["expected_discrepant"], c["examined"])
    return {
        "id": rule.id, "kind": rule.kind, "port": rule.port, "status": rule.status,
        "targeted": c["targeted"], "examined": c["examined"], "discrepant": c["discrepant"],
        "hit_rate": hit_rate, "hit_rate_low": low, "hit_rate_high": high,
        "lift": ratio(hit_rate, base["hit_rate"]),
        "lift_within_ports": ratio(hit_rate, expected_rate),
        "random_examined": c["random_examined"], "random_discrepant": c["random_discrepant"],
        "random_hit_rate": ratio(c["random_discrepant"], c["random_examined"]),
        "self_selected_share": ratio(c["self_selected"], c["examined"]),
        "exam_rate": ratio(c["examined"], c["targeted"]),
        "flags_per_day": ratio(c["targeted"], window.days),
        "ports_targeted": c["ports_targeted"], "ports_with_hits": c["ports_with_hits"],
        "months_with_hits": c["months_with_hits"], "unique_discrepant": c["unique_discrepant"],
        "max_overlap_id": c["max_overlap_id"], "max_overlap_jaccard": c["max_overlap_jaccard"],
        "seizures": c["seizures"], "abandonments": c["abandonments"],
        "refused_entries": c["refused_entries"], "other_outcomes": c["other_outcomes"],
        "msrp_total": float(c["msrp_total"] or 0), "referrals": c["referrals"],
    }


_INT, _FLOAT, _STR = pl.Int64, pl.Float64, pl.String
_SCHEMA = {name: _FLOAT for name in SCOREBOARD_COLUMNS}
_SCHEMA.update({name: _STR for name in ("id", "kind", "port", "status", "max_overlap_id")})
_SCHEMA.update({name: _INT for name in (
    "targeted", "examined", "discrepant", "random_examined", "random_discrepant", "ports_targeted",
    "ports_with_hits", "months_with_hits", "unique_discrepant", "seizures", "abandonments",
    "refused_entries", "other_outcomes", "referrals")})


def monthly(con: duckdb.DuckDBPyConnection, rule: int) -> pl.DataFrame:
    """Targeted, examined and discrepant per arrival month for one rule (months with any hit)."""
    return fetch_frame(con, """
        SELECT f.month, count(*) AS targeted, count(*) FILTER (f.examined) AS examined,
          count(*) FILTER (f.discrepant) AS discrepant
        FROM hits h JOIN w_facts f USING (rid) WHERE h.rule = ? GROUP BY f.month ORDER BY f.month
        """, [rule])


def by_port(con: duckdb.DuckDBPyConnection, rule: int, window: Window) -> pl.DataFrame:
    """Counts, hit rate and flags per day per port for one rule, busiest port first."""
    frame = fetch_frame(con, """
        SELECT f.port, count(*) AS targeted, count(*) FILTER (f.examined) AS examined,
          count(*) FILTER (f.discrepant) AS discrepant
        FROM hits h JOIN w_facts f USING (rid) WHERE h.rule = ? GROUP BY f.port
        ORDER BY targeted DESC, f.port""", [rule])
    return frame.with_columns(
        hit_rate=pl.when(pl.col("examined") > 0).then(pl.col("discrepant") / pl.col("examined")),
        flags_per_day=pl.col("targeted") / window.days if window.days else pl.lit(None),
    )


def overlaps(con: duckdb.DuckDBPyConnection, rule: int, top: int = 5) -> pl.DataFrame:
    """The reference UDRs sharing shipments with one rule, by Jaccard index, highest first."""
    return fetch_frame(con, """
        WITH sizes AS (SELECT rule, n FROM rule_sizes)
        SELECT r.rule_id AS udr, count(*) AS shared, count(*) / (sa.n + sb.n - count(*)) AS jaccard
        FROM hits a JOIN hits b ON a.rid = b.rid AND b.rule <> a.rule
        JOIN udrs u ON u.rule = b.rule JOIN rule_ids r ON r.rule = b.rule
        JOIN sizes sa ON sa.rule = a.rule JOIN sizes sb ON sb.rule = b.rule
        WHERE a.rule = ? GROUP BY r.rule_id, sa.n, sb.n
        ORDER BY jaccard DESC, udr LIMIT ?""", [rule, top])


def matched_shipments(con: duckdb.DuckDBPyConnection, rule: int, limit: int | None = None) -> pl.DataFrame:
    """The rule's matched shipments with their exam outcome, most recent discrepant first."""
    # Cut on the small facts table first (keeping ties at the cut), then fetch only those
    # manifest rows by rid: never a join over the whole manifest.
    cut = "QUALIFY rank() OVER (ORDER BY f.discrepant DESC, f.examined DESC, f.arrival_date DESC) <= ?"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE picked AS
        SELECT f.rid, f.examined, f.discrepant, f.outcome, f.msrp
        FROM hits h JOIN w_facts f USING (rid) WHERE h.rule = ? {cut if limit is not None else ""}""",
                [rule] + ([limit] if limit is not None else []))
    frame = fetch_frame(con, f"""SELECT m.*, p.examined, p.discrepant, p.outcome, p.msrp
        FROM picked p JOIN manifest_f m ON m."{RID}" = p.rid
        ORDER BY p.discrepant DESC, p.examined DESC, m.arrival_date DESC, m.shipment_id
        {"LIMIT ?" if limit is not None else ""}""", [limit] if limit is not None else None)
    return frame.drop(internal_columns(con))


def containment(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """For every reference UDR, the largest share of its targeted shipments another one also matches."""
    return fetch_frame(con, """
        WITH sizes AS (SELECT rule, n FROM rule_sizes WHERE rule IN (SELECT rule FROM udrs)),
        shared AS (
          SELECT a.rule, b.rule AS other, count(*) AS n FROM hits a
          JOIN hits b ON a.rid = b.rid AND a.rule <> b.rule
          WHERE a.rule IN (SELECT rule FROM udrs) AND b.rule IN (SELECT rule FROM udrs)
          GROUP BY a.rule, b.rule
        )
        SELECT s.rule, r.rule_id AS other_id, s.n / z.n AS share
        FROM shared s JOIN sizes z ON z.rule = s.rule JOIN rule_ids r ON r.rule = s.other
        QUALIFY row_number() OVER (PARTITION BY s.rule ORDER BY share DESC, other_id) = 1""")
