"""How completely outcomes are recorded (the audit's recommendations 5 and 7): per port, the
share of discrepant exams with a recorded disposition, and whether the port ever records an
alternative to seizure (voluntary abandonment or refused entry). A port that records none over
a long window is flagged as likely not recording them rather than never using them: the audit
found ports applying ad hoc value thresholds without recording the outcome."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import duckdb

from targeting.executor import DuckDBExecutor, Executor

if TYPE_CHECKING:
    import polars as pl

RECORDING_SQL = """
SELECT m.port_code AS port,
  count(*) FILTER (WHERE e.result = 'discrepant') AS discrepant_exams,
  count(*) FILTER (WHERE e.result = 'discrepant' AND e.disposition IS NOT NULL) AS with_disposition,
  count(*) FILTER (WHERE e.result = 'discrepant'
                   AND e.disposition IN ('voluntary_abandonment', 'refused_entry'))
    AS alternatives,
  count(*) FILTER (WHERE e.result = 'discrepant' AND e.disposition = 'seizure') AS seizures
FROM exams e JOIN manifest m ON m.shipment_id = e.shipment_id
WHERE m.arrival_date BETWEEN ? AND ?
GROUP BY m.port_code
HAVING count(*) FILTER (WHERE e.result = 'discrepant') > 0
ORDER BY discrepant_exams DESC, port
"""


def recording_completeness(sql: Executor | duckdb.DuckDBPyConnection, since: dt.date | None,
                           until: dt.date | None) -> pl.DataFrame:
    """Per port with discrepant exams: discrepant_exams, with_disposition, recorded_share,
    alternatives (abandonments and refused entries), seizures, and `flag`: "no disposition
    recorded" / "no alternative to seizure recorded" / "" (a port is flagged for alternatives
    only once it has 10 or more seizures, so a quiet port is not accused on two exams)."""
    import polars as pl

    if isinstance(sql, duckdb.DuckDBPyConnection):
        sql = DuckDBExecutor(sql)
    first, last = since or dt.date.min, until or dt.date.max
    frame = sql.frame(RECORDING_SQL, [first, last])
    return frame.with_columns(
        recorded_share=pl.col("with_disposition") / pl.col("discrepant_exams"),
        flag=pl.when(pl.col("with_disposition") == 0).then(pl.lit("no disposition recorded"))
        .when((pl.col("alternatives") == 0) & (pl.col("seizures") >= 10))
        .then(pl.lit("no alternative to seizure recorded: likely unrecorded"))
        .otherwise(pl.lit("")),
    )


# Per cut-off, of the shipments arriving by it: those whose first exam, or first discrepant
# exam, is dated after it. The prepared tables (exam_facts) hold every exam of a shipment
# whatever its date, so a backtest over a window ending at the cut-off counts these too.
LATE_SQL = """
WITH s AS (
  SELECT m.arrival_date, min(e.exam_date) AS first_exam,
    min(e.exam_date) FILTER (WHERE e.result = 'discrepant') AS first_hit
  FROM exams e JOIN manifest m ON m.shipment_id = e.shipment_id
  GROUP BY e.shipment_id, m.arrival_date)
SELECT c.cutoff,
  count(*) FILTER (WHERE s.first_exam > c.cutoff) AS examined_late,
  count(*) FILTER (WHERE s.first_hit > c.cutoff) AS discrepant_late
FROM (VALUES {cutoffs}) AS c(cutoff) JOIN s ON s.arrival_date <= c.cutoff
GROUP BY c.cutoff ORDER BY c.cutoff
"""


def late_exams(sql: Executor | duckdb.DuckDBPyConnection,
               cutoffs: list[dt.date]) -> list[dict[str, object]]:
    """For each cut-off: `examined_late`, the shipments arriving by it first examined after it,
    and `discrepant_late`, those first found discrepant after it (an exam without a date counts
    as known). What a backtest ending at the cut-off knows that nobody knew that day."""
    if isinstance(sql, duckdb.DuckDBPyConnection):
        sql = DuckDBExecutor(sql)
    # The cut-offs as a VALUES list: DuckDB and Spark read it alike.
    values = ", ".join("(CAST(? AS DATE))" for _ in cutoffs)
    rows = sql.dicts(LATE_SQL.format(cutoffs=values), cutoffs) if cutoffs else []
    found = {row["cutoff"]: row for row in rows}
    return [found.get(day, {"cutoff": day, "examined_late": 0, "discrepant_late": 0})
            for day in cutoffs]
