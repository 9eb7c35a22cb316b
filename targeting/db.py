"""Small DuckDB helpers used across modules."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import polars as pl


def connect(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never draws a progress bar (it would land in the output of a
    command writing JSON to stdout)."""
    con = duckdb.connect(database)
    con.execute("SET enable_progress_bar = false")
    return con


def drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the table or view called `name`, whichever it is (nothing if neither)."""
    row = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal",
                      [name]).fetchall()[0]
    quoted = '"' + name.replace('"', '""') + '"'
    con.execute(f"DROP {'VIEW' if row[0] else 'TABLE'} IF EXISTS {quoted}")


def one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...]:
    """The single row of a query, fetched completely.

    DuckDB 2 refuses new work on a connection while a result is partly fetched, so never
    leave a `fetchone()` behind.
    """
    rows = con.execute(sql, list(params or [])).fetchall()
    return rows[0] if rows else ()


def fetch_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pl.DataFrame:
    """A query's result as a Polars DataFrame.

    Read through the Arrow C stream interface: `relation.pl()` goes through pyarrow, whose
    import (with numpy's) costs about 0.2 s of every command's start. Polars itself is imported
    here, when a frame is wanted, not by every command (see fetch_dicts).
    """
    import polars as pl

    return pl.DataFrame(con.sql(sql, params=params))


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str,
                params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """A query's (small) result as a list of dicts, without importing Polars: the officer's
    `targeting test` never needs a DataFrame, and importing Polars costs about 0.15 s."""
    cursor = con.execute(sql, list(params or []))
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def register_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Make a Polars DataFrame queryable as `name`, read through the Arrow C stream interface
    (DuckDB reads a Polars frame itself through pyarrow; see fetch_frame)."""
    con.register(name, _ArrowStream(frame))


class _ArrowStream:
    """Only the Arrow PyCapsule stream of a frame, so DuckDB takes its pyarrow-free path."""

    def __init__(self, frame: pl.DataFrame):
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)
