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
