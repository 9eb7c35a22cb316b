"""The data on Apache Spark: the same sources, mappings, contract checks, typing and prepared
tables as the DuckDB path, as Spark SQL over temporary views of one session.

Each step reuses the DuckDB path's SQL generators with the Spark dialect: column names and value
mappings (sources.py), every contract check (checks.py, run as Spark SQL aggregates: only counts
and up to five example values per problem reach the driver), typing (dataset.typed_sql) and the
prepared tables (tables.py: `manifest_f` a view, `exam_facts` and `arrivals` cached, being a few
percent of the rows). Nothing collects the manifest.

Sources are Parquet files (local paths and globs, as the DuckDB engines read them, or URIs such
as hdfs:// and s3a:// that Spark resolves) or tables of the Spark catalog. CSV is read by the
DuckDB engines only.
"""
from __future__ import annotations

import glob
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from targeting.compile.sql import LISTS_TABLE
from targeting.data import tables
from targeting.data.checks import check_staged
from targeting.data.config import Config, Source, display_path
from targeting.data.contract import MANIFEST_COLUMNS, field_type, ident
from targeting.data.dataset import fingerprint, typed_sql
from targeting.data.lists import Lists, load_lists
from targeting.data.open import DAYS_SQL
from targeting.data.plausible import judge_arrivals, plausible_arrivals
from targeting.data.problems import unreadable
from targeting.data.reading import failing_parquet, read_error
from targeting.data.settings import SparkSettings
from targeting.data.sources import (
    FILE_COLUMN,
    check_value_columns,
    renamed,
    synthesised_exams_sql,
)
from targeting.dialect import SPARK, Dialect
from targeting.errors import ConfigError, DataError, TargetingError
from targeting.executor import SparkExecutor
from targeting.rules.model import Catalogue, FieldType

if TYPE_CHECKING:
    import datetime as dt

    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

ROW_COLUMN = "_source_row"  # (file, row index): the order of rows in their files, for examples
# Spark SQL must read the tool's SQL as DuckDB does: "x" is an identifier, not a string.
REQUIRED_CONF = {"spark.sql.ansi.enabled": "true",
                 "spark.sql.ansi.doubleQuotedIdentifiers": "true"}
# A local session (tests, one machine) is small: a few shuffle partitions, no web UI.
LOCAL_CONF = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
              "spark.sql.shuffle.partitions": "8", "spark.driver.memory": "2g"}
# Spark type -> the DuckDB type name the contract and the field catalogue are written in.
_TYPES = {"string": "VARCHAR", "boolean": "BOOLEAN", "tinyint": "TINYINT", "smallint": "SMALLINT",
          "int": "INTEGER", "bigint": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
          "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
          "binary": "BLOB"}


def spark_session(settings: SparkSettings) -> SparkSession:
    """A session of its own (its temporary views apart from any other's) on the configured
    master or Spark Connect server, with the settings the tool's SQL needs."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError("the Spark engine needs pyspark: pip install 'targeting[spark]' "
                          "(Java 17 or later must be installed too).") from exc
    if settings.connect is not None:
        builder = SparkSession.builder.remote(settings.connect)
        for key, value in settings.conf.items():
            builder = builder.config(key, value)
        session = builder.create()
    else:
        # Under spark-submit, its --master and --conf rule (and the JVM runs already).
        submitted = "PYSPARK_GATEWAY_PORT" in os.environ
        local = not submitted and settings.master.startswith("local")
        builder = SparkSession.builder.appName("targeting")
        if not submitted:
            builder = builder.master(settings.master)
        for key, value in {**(LOCAL_CONF if local else {}), **settings.conf}.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate().newSession()
        session.sparkContext.setLogLevel(os.environ.get("TARGETING_SPARK_LOG", "ERROR"))
    for key, value in REQUIRED_CONF.items():
        session.conf.set(key, value)
    # PySpark logs each failed query's Java stack trace; the tool reports its own errors.
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
    return session


# --- staging -----------------------------------------------------------------------------


@dataclass
class SparkStaged:
    """The sources as temporary views `_src_<table>` with contract names (data/sources.py's
    `Staging` on Spark)."""

    config: Config
    sql: SparkExecutor
    labels: dict[str, str] = field(default_factory=dict)
    renames: dict[str, dict[str, str]] = field(default_factory=dict)
    from_text: dict[str, bool] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    raw: dict[str, SparkFrame] = field(default_factory=dict)
    dialect: Dialect = SPARK
    row_order: str = ident(ROW_COLUMN)

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self.sql.rows(sql, params)

    def columns(self, table: str) -> dict[str, str]:
        """Staged column name -> DuckDB type name, without the file and row columns."""
        schema = self.sql.session.table(f"_src_{table}").schema
        return {f.name: duckdb_type(f.dataType.simpleString()) for f in schema.fields
                if f.name not in (FILE_COLUMN, ROW_COLUMN)}

    def source_name(self, table: str, column: str) -> str:
        return self.renames[table].get(column, column)


def duckdb_type(spark_type: str) -> str:
    """The DuckDB name of a Spark type (decimal(10,2) -> DECIMAL(10,2); others upper-cased)."""
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    if spark_type.startswith(("varchar", "char")):
        return "VARCHAR"
    return _TYPES.get(spark_type, spark_type.upper())


def stage(config: Config, sql: SparkExecutor) -> SparkStaged:
    """Read the sources into `_src_manifest` and `_src_exams` with contract column names."""
    staged = SparkStaged(config, sql)
    data = config.data
    for table in ("manifest", "exams") if data.exams is not None else ("manifest",):
        source: Source = getattr(data, table)
        staged.labels[table] = _label(source)
        staged.raw[table] = _read(staged, source, table)
        staged.renames[table] = _stage_table(staged, table)
        staged.from_text[table] = False
    if data.labelled is not None:
        columns = sql.columns("_src_manifest")
        select, params = synthesised_exams_sql(columns, data.labelled, SPARK)
        sql.run(f'CREATE OR REPLACE TEMP VIEW "_src_exams" AS {select}', params)
        staged.labels["exams"], staged.renames["exams"] = staged.labels["manifest"], {}
        staged.from_text["exams"] = False
    check_value_columns(staged)
    return staged


def _label(source: Source) -> str:
    if source.table is not None:
        return source.table
    pattern = source.pattern or ""
    return pattern if source.is_uri else display_path(pattern)


def _read(staged: SparkStaged, source: Source, table: str) -> SparkFrame:
    """The source as a DataFrame with the file and row position of every row."""
    session, config = staged.sql.session, staged.config
    if source.table is not None:
        if not session.catalog.tableExists(source.table):
            raise ConfigError(f"{display_path(config.path)}: data.{table}.table: the Spark "
                              f"catalog has no table {source.table!r}.")
        frame = session.table(source.table)
    else:
        frame = session.read.option("mergeSchema", "true").parquet(*_paths(staged, source, table))
    try:  # file-based sources know each row's file and position
        return frame.select("*", frame["_metadata.file_path"].alias(FILE_COLUMN),
                            frame["_metadata.row_index"].alias(ROW_COLUMN))
    except Exception:  # a table without files: its name, and Spark's row ids
        from pyspark.sql import functions as f

        return frame.select("*", f.lit(staged.labels[table]).alias(FILE_COLUMN),
                            f.monotonically_increasing_id().alias(ROW_COLUMN))


def _paths(staged: SparkStaged, source: Source, table: str) -> list[str]:
    """Local globs expand as the DuckDB engines expand them; URIs go to Spark as they are."""
    pattern, shown = source.pattern or "", display_path(staged.config.path)
    if source.is_uri:
        return [pattern]
    paths = sorted(glob.glob(pattern, recursive=True))
    if not paths:
        raise ConfigError(f"{shown}: data.{table}: no files match {display_path(pattern)}. Check "
                          "the path (relative to the config file).")
    if any(not p.lower().endswith(".parquet") for p in paths):
        raise ConfigError(f"{shown}: data.{table}: the Spark engine reads Parquet files and "
                          "catalog tables, not CSV; convert the files to Parquet, or use the "
                          "DuckDB engine (engine: auto).")
    staged.files.extend(Path(p) for p in paths)
    return paths


def _stage_table(staged: SparkStaged, table: str) -> dict[str, str]:
    """Rename and value-map the source into `_src_<table>` (as sources._stage_table does)."""
    config, label, raw = staged.config, staged.labels[table], staged.raw[table]
    columns = [c for c in raw.columns if c not in (FILE_COLUMN, ROW_COLUMN)]
    names, selects, params = renamed(config, table, label, columns, SPARK)
    # A path as the DuckDB engines name it: file: URIs (percent-encoded) become local paths.
    path = ident(FILE_COLUMN)
    local = f"url_decode(replace(regexp_replace({path}, '^file:(//)?', ''), '+', '%2B'))"
    selects += [f"CASE WHEN startswith({path}, 'file:') THEN {local} ELSE {path} END "
                f"AS {path}", ident(ROW_COLUMN)]
    raw.createOrReplaceTempView(f"_raw_{table}")
    staged.sql.run(f'CREATE OR REPLACE TEMP VIEW "_src_{table}" AS SELECT {", ".join(selects)} '
                   f'FROM "_raw_{table}"', params)
    return {dst: src for src, dst in names.items() if src != dst}


# --- the dataset ----------------------------------------------------------------------------


class SparkDataset:
    """Typed manifest and exams, the prepared tables and the target lists as temporary views of
    one Spark session (data/dataset.py's `Dataset` on Spark)."""

    hits_folder: Path | None = None  # matches are not kept between runs on Spark

    def __init__(self, config: Config, sql: SparkExecutor, files: tuple[Path, ...],
                 lists: Lists, fingerprint: str):
        self.config, self.sql, self.files = config, sql, files
        self.lists, self.fingerprint = lists, fingerprint
        self.catalogue: dict[str, FieldType] = spark_table_catalogue(sql, "manifest")
        self._arrivals: tuple[dt.date | None, dt.date | None] | None = None

    @property
    def executor(self) -> SparkExecutor:
        return self.sql

    @property
    def session(self) -> SparkSession:
        return self.sql.session

    def arrival_range(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last plausible arrival dates (None, None for an empty manifest), as
        `Dataset.arrival_range` gives them."""
        if self._arrivals is None:
            self._arrivals = plausible_arrivals(self.sql, self.config)
        return self._arrivals

    def close(self) -> None:
        """Release the kept tables (the Spark application stays up for other sessions)."""
        self.sql.drop_namespace("")


def open_spark_dataset(config: Config) -> SparkDataset:
    """Read, check and type the configured data on Spark; DataError (exit 2) lists every
    problem, exactly as the DuckDB path would, and implausible arrival dates are errors or
    warnings (data/plausible.py). A source Spark cannot read is a DataError naming it."""
    sql = SparkExecutor(spark_session(config.spark))
    try:
        staged = stage(config, sql)
        report = check_staged(staged)
        if report.problems:
            raise DataError("\n".join(str(p) for p in report.problems), list(report.problems))
        _prepare(config, sql, staged)
        judge_arrivals(sql, config, DAYS_SQL)
    except Exception as exc:
        sql.drop_namespace("")
        if isinstance(exc, TargetingError) or not _unreadable(exc):
            raise
        raise spark_read_error(exc, config) from None
    files = tuple(staged.files)
    return SparkDataset(config, sql, files, load_lists(config), _fingerprint(config, staged, files))


def _prepare(config: Config, sql: SparkExecutor, staged: SparkStaged) -> None:
    """The typed tables as views, the target lists, and the prepared tables (data/tables.py):
    `manifest_f` a view, `exam_facts` and `arrivals` kept (a few percent of the rows)."""
    for table in staged.labels:
        sql.run(f"CREATE OR REPLACE TEMP VIEW {ident(table)} AS "
                f"{typed_sql(table, staged.columns(table), {}, SPARK)}")
    lists = load_lists(config)
    sql.table(LISTS_TABLE, {
        "list_name": ("VARCHAR", [name for name in sorted(lists) for _ in lists[name]]),
        "value": ("VARCHAR", [value for name in sorted(lists) for value in sorted(lists[name])]),
    })
    sql.run(f"CREATE OR REPLACE TEMP VIEW manifest_f AS {tables.manifest_f_sql('manifest', SPARK)}")
    sql.create("exam_facts", tables.exam_facts_sql(SPARK))
    sql.create("arrivals", tables.ARRIVALS_SQL)


# What Spark says when a source's bytes cannot be read (not a mistake in the tool's own SQL).
_READ_FAILURES = ("FAILED_READ_FILE", "CANNOT_READ_FILE_FOOTER", "UNABLE_TO_INFER_SCHEMA",
                  "PATH_NOT_FOUND", "is not a Parquet file", "FileNotFoundException",
                  "CANNOT_READ_FILE", "ParquetDecodingException")


def _unreadable(exc: Exception) -> bool:
    text = str(exc)
    return any(marker in text for marker in _READ_FAILURES)


def spark_read_error(exc: Exception, config: Config) -> DataError:
    """The DataError for sources Spark could not read: for local Parquet files the same
    message the DuckDB engines give (data/reading.py), which names the file and the fix."""
    text = str(exc)
    by_table = {table: sorted(glob.glob(source.pattern, recursive=True))
                for table, source in (("manifest", config.data.manifest), ("exams", config.data.exams))
                if source is not None and source.pattern is not None and not source.is_uri}
    # The table whose file Spark names, else the one whose file DuckDB cannot read either.
    for table, paths in by_table.items():
        if any(Path(p).name in text for p in paths) or failing_parquet(paths):
            return read_error(exc, paths, "parquet", f"data.{table}")
    paths = [p for found in by_table.values() for p in found]
    if paths:
        return read_error(exc, paths, "parquet", "data")
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return unreadable(", ".join(_label(s) for s in (config.data.manifest, config.data.exams)
                                if s is not None), f"Spark cannot read it ({reason}).")


def spark_table_catalogue(sql: SparkExecutor, table: str) -> dict[str, FieldType]:
    """Field name -> rule field type of a view's columns (unsupported types left out)."""
    catalogue: dict[str, FieldType] = {}
    for f in sql.session.table(table).schema.fields:
        found = field_type(duckdb_type(f.dataType.simpleString()))
        if found is not None:
            catalogue[f.name] = found
    return catalogue


def spark_catalogue(config: Config) -> Catalogue:
    """The manifest's fields as the typed manifest will have them, from the source's schema
    alone (for `validate` over sources only Spark reads)."""
    staged = SparkStaged(config, SparkExecutor(spark_session(config.spark)))
    staged.labels["manifest"] = _label(config.data.manifest)
    staged.raw["manifest"] = _read(staged, config.data.manifest, "manifest")
    staged.renames["manifest"] = _stage_table(staged, "manifest")
    catalogue: dict[str, FieldType] = {}
    for name, kind in staged.columns("manifest").items():
        found = field_type(MANIFEST_COLUMNS.get(name, "VARCHAR" if name in config.data.values
                                                 else kind))
        if found is not None:
            catalogue[name] = found
    return catalogue


def spark_fingerprint(config: Config) -> str:
    """The fingerprint `open_spark_dataset` gives the data, from the sources' file listings
    alone (the gate keys its cache with it without reading the rows)."""
    staged = SparkStaged(config, SparkExecutor(spark_session(config.spark)))
    for table in ("manifest", "exams"):
        source = getattr(config.data, table)
        if source is not None:
            staged.labels[table] = _label(source)
            staged.raw[table] = _read(staged, source, table)
    return _fingerprint(config, staged, tuple(staged.files))


def _fingerprint(config: Config, staged: SparkStaged, files: tuple[Path, ...]) -> str:
    """Local Parquet files: the DuckDB path's fingerprint (their content), so both engines
    stamp the same data alike. URIs and catalog tables: that, with every input file's name, and
    its size and modification time where the session can ask the file system (not through
    Spark Connect): hashing the content of a data lake on every run would cost a full read."""
    local = fingerprint(config, files)
    if config.data.spark_only is None:
        return local
    digest = hashlib.sha256(local.encode())
    for table in sorted(staged.raw):
        for name in sorted(staged.raw[table].inputFiles()):
            digest.update(f"{table}\0{name}\0{_status(staged.sql.session, name)}\n".encode())
    return digest.hexdigest()


def _status(session: SparkSession, name: str) -> str:
    try:
        jvm: Any = session._jvm
        path = jvm.org.apache.hadoop.fs.Path(name)
        status = path.getFileSystem(session._jsc.hadoopConfiguration()).getFileStatus(path)
        return f"{status.getLen()}\0{status.getModificationTime()}"
    except Exception:  # Spark Connect: no file system API; the name alone
        return ""

