"""Run SQL on DuckDB or Spark through one interface, each with its dialect.

The metric SQL (backtest/metric_sql.py), the contract checks (data/checks.py) and the prepared
tables (data/tables.py) are written once; an executor runs them where the data lives and hands
back only small results, as Polars DataFrames or rows. A *namespace* keeps one backtest's tables
apart from another's: a DuckDB schema (`bt_1.cells`), or a prefix of Spark temporary views
(`bt_1_cells`), since Spark's temporary views have no schema.
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from targeting.db import fetch_dicts, fetch_frame, register_frame
from targeting.dialect import DUCKDB, SPARK, Dialect

if TYPE_CHECKING:
    import polars as pl
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

Params = Sequence[Any] | None
# A small table's columns: name -> (SQL type, values); see Executor.table.
Columns = Mapping[str, tuple[str, Sequence[Any]]]
LOCAL_ROWS = 10_000  # Spark: a small table this long at most is carried in each query's plan


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    return {"INTEGER": pa.int32(), "VARCHAR": pa.string(), "DATE": pa.date32(), "BIGINT": pa.int64()}


class Executor(Protocol):
    """Where SQL runs: DuckDB (one process) or Spark (a session on a cluster or in local mode)."""

    dialect: Dialect

    def run(self, sql: str, params: Params = None) -> None:
        """Execute a statement for its effect."""
        ...

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """A query's (small) result as tuples."""
        ...

    def dicts(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """A query's (small) result as one dict per row, without importing Polars."""
        ...

    def frame(self, sql: str, params: Params = None) -> pl.DataFrame:
        """A query's (small) result as a Polars DataFrame."""
        ...

    def create(self, name: str, sql: str, params: Params = None) -> None:
        """Keep a query's result as the table `name` (DuckDB), or compute it and keep it as a
        temporary view (Spark)."""
        ...

    def view(self, name: str, sql: str, params: Params = None) -> None:
        """Name a query `name` without computing it (each reader computes it again)."""
        ...

    def register(self, name: str, frame: pl.DataFrame) -> None:
        """Make a Polars frame a table called `name`."""
        ...

    def table(self, name: str, columns: Columns) -> None:
        """Make a small table called `name` from columns of Python values of the same length
        (types INTEGER, BIGINT, VARCHAR or DATE), without Polars."""
        ...

    def columns(self, name: str) -> list[str]:
        """The column names of a table or view."""
        ...

    def namespace(self, ns: str) -> str:
        """Create namespace `ns`; return the prefix that names a table in it (`ns.` or `ns_`)."""
        ...

    def drop_namespace(self, ns: str) -> None:
        """Drop every table of namespace `ns` (nothing happens once the engine is closed)."""
        ...


class DuckDBExecutor:
    """SQL on a DuckDB connection."""

    dialect = DUCKDB

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def run(self, sql: str, params: Params = None) -> None:
        self.con.execute(sql, list(params or []))

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params or [])).fetchall()

    def dicts(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        return fetch_dicts(self.con, sql, params)

    def frame(self, sql: str, params: Params = None) -> pl.DataFrame:
        return fetch_frame(self.con, sql, list(params) if params is not None else None)

    def create(self, name: str, sql: str, params: Params = None) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}", list(params or []))

    def view(self, name: str, sql: str, params: Params = None) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}", list(params or []))

    def register(self, name: str, frame: pl.DataFrame) -> None:
        view = name.replace(".", "_") + "_view"
        register_frame(self.con, view, frame)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {view}")
        self.con.unregister(view)

    def table(self, name: str, columns: Columns) -> None:
        # Bound lists unnested side by side: one statement, however many rows.
        selects = ", ".join(f'unnest(?::{kind}[]) AS "{column}"'
                            for column, (kind, _) in columns.items())
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {selects}",
                         [list(values) for _, values in columns.values()])

    def columns(self, name: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"DESCRIBE {name}").fetchall()]

    def namespace(self, ns: str) -> str:
        self.con.execute(f"CREATE SCHEMA {ns}")
        return f"{ns}."

    def drop_namespace(self, ns: str) -> None:
        # A closed connection took its tables with it.
        with contextlib.suppress(duckdb.Error):
            self.con.execute(f"DROP SCHEMA IF EXISTS {ns} CASCADE")


class SparkExecutor:
    """SQL on a Spark session: every query is Spark SQL with bound parameters, and only results
    a command shows (a few rows per rule) are collected to the driver, through Arrow."""

    dialect = SPARK

    def __init__(self, session: SparkSession):
        self.session = session
        self._tables: dict[str, list[tuple[str, SparkFrame]]] = {}  # namespace -> views in it

    def query(self, sql: str, params: Params = None) -> SparkFrame:
        """The query as a Spark DataFrame (lazy: nothing runs yet)."""
        return self.session.sql(sql, args=list(params) if params else None)

    def run(self, sql: str, params: Params = None) -> None:
        self.query(sql, params).collect()

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.query(sql, params).collect()]

    def dicts(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        return [row.asDict() for row in self.query(sql, params).collect()]

    def frame(self, sql: str, params: Params = None) -> pl.DataFrame:
        import polars as pl

        result = pl.from_arrow(self.query(sql, params).toArrow())
        assert isinstance(result, pl.DataFrame)
        return result

    def create(self, name: str, sql: str, params: Params = None) -> None:
        self.keep(name, self.query(sql, params))

    def keep(self, name: str, frame: SparkFrame) -> None:
        """Compute a DataFrame now and keep it (on the executors) as the temporary view `name`.

        A local checkpoint, so that the view's plan is the kept data alone, not the lineage back
        to the Parquet files: with cache() alone, every later query over the view was analysed
        with its whole lineage and matched against every cached plan, and the metric queries
        of a second backtest took minutes over 200,000 shipments. Cached as well (one job does
        both), for its size: a checkpoint has no statistics, so Spark took every kept table
        for huge and joined the smallest with a shuffle and a sort on both sides; sized, it
        broadcasts them. (The kept tables are aggregates: twice their size is little.)"""
        kept = frame.localCheckpoint(eager=False).cache()
        kept.count()
        self._name(name, kept)

    def view(self, name: str, sql: str, params: Params = None) -> None:
        self._name(name, self.query(sql, params))

    def _name(self, name: str, frame: SparkFrame) -> None:
        """Make `frame` the temporary view `name`, in the namespace its name starts with."""
        self.session.catalog.dropTempView(name)
        frame.createOrReplaceTempView(name)
        # Tables outside a namespace (the dataset's own) belong to the namespace "".
        owner = next((ns for ns in self._tables if ns and name.startswith(f"{ns}_")), "")
        self._tables.setdefault(owner, []).append((name, frame))

    def register(self, name: str, frame: pl.DataFrame) -> None:
        self.keep(name, self.session.createDataFrame(frame.to_arrow()))

    def table(self, name: str, columns: Columns) -> None:
        import pyarrow as pa

        data = pa.table({column: pa.array(list(values), type=_arrow_types()[kind])
                         for column, (kind, values) in columns.items()})
        frame = self.session.createDataFrame(data)
        # From Arrow, a local relation with its size: Spark plans it into each query and
        # broadcasts it, no job to keep it (from Python rows it would be an RDD of unknown size).
        # A long one (a list file of a million lines) is kept rather than carried in every plan.
        if data.num_rows > LOCAL_ROWS:
            self.keep(name, frame)
        else:
            self._name(name, frame)

    def columns(self, name: str) -> list[str]:
        return list(self.session.table(name).columns)

    def namespace(self, ns: str) -> str:
        self._tables[ns] = []
        return f"{ns}_"

    def drop_namespace(self, ns: str) -> None:
        for name, kept in self._tables.pop(ns, []):
            with contextlib.suppress(Exception):  # the session may be stopped at exit
                self.session.catalog.dropTempView(name)
                kept.unpersist()


def duckdb_connection(executor: Executor) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection behind an executor, for work only DuckDB does."""
    if not isinstance(executor, DuckDBExecutor):
        raise TypeError(f"this engine runs on DuckDB, not {executor.dialect.name}")
    return executor.con
