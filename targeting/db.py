"""Small DuckDB helpers used across modules."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb


def one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> tuple:
    """The single row of a query, fetched completely.

    DuckDB 2 refuses new work on a connection while a result is partly fetched, so never
    leave a `fetchone()` behind.
    """
    rows = con.execute(sql, list(params or [])).fetchall()
    return rows[0] if rows else ()
