"""Whether the data's arrival dates are plausible: none after the day the data was extracted
(data.extracted, default today), none before data.earliest. 50 arrivals dated 2031 among
20,000 once stretched every default window to 2,435 days and had a good UDR proposed for
retirement as "quiet".

Implausible arrivals are errors; with data.implausible_arrivals: warning they are reported and
left out of every window (`plausible_range`). Judged each time the data is opened, from the
per-day counts, so a stored copy is judged against today's date, not the day it was built.
"""
from __future__ import annotations

import datetime as dt
import warnings

import duckdb

from targeting.data.config import Config
from targeting.data.problems import DataProblem, data_error
from targeting.data.sources import table_label
from targeting.errors import TargetingWarning
from targeting.executor import DuckDBExecutor, Executor

Where = Executor | duckdb.DuckDBPyConnection  # DuckDB (a connection) or Spark (an executor)

EXAMPLES = 5


def arrival_problems(con: Where, days_sql: str, config: Config) -> list[DataProblem]:
    """Implausible arrivals in `days_sql` (rows of arrival_date, n), as errors or warnings."""
    checks = config.data.checks
    last = checks.last_day()
    after = "the day the data was extracted (" + (
        f"data.extracted, {last}" if checks.extracted else f"{last}: today, as data.extracted "
        "is not set") + ")"
    return [problem for problem in (
        _problem(con, days_sql, config, "arrival_date > ?", last, "future-arrival",
                 f"after {after}", "Correct those dates in the source, or set "
                 "data.extracted to the day the data was extracted."),
        _problem(con, days_sql, config, "arrival_date < ?", checks.earliest, "early-arrival",
                 f"before data.earliest ({checks.earliest})", "Correct those dates in "
                 "the source (1970-01-01 and 1900-01-01 often stand for a missing date), or "
                 "set data.earliest if the data really goes back that far."),
    ) if problem is not None]


def _problem(con: Where, days_sql: str, config: Config, condition: str,
             bound: dt.date, code: str, what: str, fix: str) -> DataProblem | None:
    sql = DuckDBExecutor(con) if isinstance(con, duckdb.DuckDBPyConnection) else con
    found = sql.rows(f"""SELECT arrival_date, n FROM ({days_sql}) d WHERE {condition}
                         ORDER BY arrival_date""", [bound])
    count, days = sum(n for _, n in found), [day for day, _ in found]
    if not count:
        return None
    severity = config.data.checks.implausible_arrivals
    shown = ", ".join(repr(d.isoformat()) for d in (days if code == "early-arrival"
                                                     else days[::-1])[:EXAMPLES])
    then = (f"{fix} To measure the rest, set data.implausible_arrivals: warning."
            if severity == "error" else "They are left out of every backtest window.")
    source = {v: k for k, v in config.data.columns.get("manifest", {}).items()}.get("arrival_date")
    column = "'arrival_date'" + (f" (source {source!r})" if source else "")
    rows = f"{count:,} rows arrive" if count != 1 else "1 row arrives"
    return DataProblem(code, table_label(config, "manifest"),
                       f"column {column}: {rows} {what}, e.g. {shown}. {then}", count, severity)


def judge_arrivals(con: Where, config: Config, days_sql: str) -> None:
    """Raise DataError on implausible arrivals that are errors; warn about the others."""
    problems = arrival_problems(con, days_sql, config)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise data_error(errors)
    for problem in problems:
        warnings.warn(str(problem), TargetingWarning, stacklevel=2)


def plausible_range(config: Config) -> tuple[dt.date, dt.date]:
    """The arrival dates a window may hold."""
    return config.data.checks.earliest, config.data.checks.last_day()


def plausible_arrivals(sql: Executor, config: Config) -> tuple[dt.date | None, dt.date | None]:
    """The first and last plausible arrival dates in the prepared `arrivals` table (None, None
    for an empty manifest)."""
    first, last = sql.rows("SELECT min(arrival_date), max(arrival_date) FROM arrivals")[0]
    low, high = plausible_range(config)
    if first is not None and last is not None and (first < low or last > high):
        first, last = sql.rows("SELECT min(arrival_date), max(arrival_date) FROM arrivals "
                               "WHERE arrival_date BETWEEN ? AND ?", [low, high])[0]
    return first, last
