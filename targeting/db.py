"""Small DuckDB helpers used across modules."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl


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
    import (with numpy's) costs about 0.2 s of every command's start.
    """
    return pl.DataFrame(con.sql(sql, params=params))


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
