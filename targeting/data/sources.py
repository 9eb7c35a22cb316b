"""Read the configured sources into staging tables with contract column names.

`stage` reads each source into `_src_manifest` / `_src_exams`: renamed, value-mapped, still raw
types, and with the file each row came from, so the contract checks can name it.
"""
from __future__ import annotations

import difflib
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from targeting.data.config import Config, Labelled, Source, display_path
from targeting.data.contract import ident, text_to
from targeting.data.reading import csv_sql, database_error, parquet_sql, read_error
from targeting.db import connect, drop_relation
from targeting.dialect import DUCKDB, Dialect
from targeting.errors import ConfigError, DataError

FILE_COLUMN = "_source_file"  # which file each staged row came from, for messages
ROW_COLUMN = "_source_row"  # its position in that file, so examples are shown in file order
STAGING_COLUMNS = (FILE_COLUMN, ROW_COLUMN)


class Staging(Protocol):
    """What the contract checks (data/checks.py) need of staged sources, in DuckDB (`Staged`)
    or on Spark (data/spark.py)."""

    @property
    def config(self) -> Config: ...

    @property
    def labels(self) -> dict[str, str]: ...

    @property
    def renames(self) -> dict[str, dict[str, str]]: ...

    @property
    def from_text(self) -> dict[str, bool]: ...

    @property
    def dialect(self) -> Dialect: ...

    @property
    def row_order(self) -> str:
        """SQL ordering a staged table's rows as its files hold them."""
        ...

    def columns(self, table: str) -> dict[str, str]: ...

    def source_name(self, table: str, column: str) -> str: ...

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class Staged:
    """Sources read into `_src_<table>` with contract names, before the checks and typing."""

    config: Config
    con: duckdb.DuckDBPyConnection
    files: tuple[Path, ...]
    labels: dict[str, str]  # table -> how to name its source in messages
    renames: dict[str, dict[str, str]]  # table -> contract name -> source name
    from_text: dict[str, bool]  # table -> read from CSV (every column text)
    dialect: Dialect = DUCKDB
    row_order: str = ident(ROW_COLUMN)

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params).fetchall()

    def columns(self, table: str) -> dict[str, str]:
        """Staged column name -> DuckDB type, without the file column."""
        rows = self.con.execute(f'DESCRIBE "_src_{table}"').fetchall()
        return {name: kind for name, kind, *_ in rows if name not in STAGING_COLUMNS}

    def source_name(self, table: str, column: str) -> str:
        """The column's name in the source file, for messages."""
        return self.renames[table].get(column, column)


MEMORY_LIMIT = os.environ.get("TARGETING_MEMORY_LIMIT", "2GB")


def limit_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Cap DuckDB's memory (TARGETING_MEMORY_LIMIT, default 2GB); beyond it DuckDB spills to disk."""
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", MEMORY_LIMIT):
        raise ConfigError(f"TARGETING_MEMORY_LIMIT={MEMORY_LIMIT!r} is not a size such as 2GB or 512MB")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")  # checked above; SET takes no parameters
    con.execute("SET preserve_insertion_order = false")


def stage(config: Config, database: str = ":memory:") -> Staged:
    """Read the sources into `_src_manifest` and `_src_exams` with contract column names."""
    con = connect(database)
    if database != ":memory:":
        limit_memory(con)
    try:
        staged = _stage(con, config)
        check_value_columns(staged)
        return staged
    except BaseException:
        con.close()
        raise


def _stage(con: duckdb.DuckDBPyConnection, config: Config) -> Staged:
    data = config.data
    files: list[Path] = []
    if data.database is not None:
        _attach(con, data.database, config)
    labels, renames, from_text = {}, {}, {}
    tables = ("manifest", "exams") if data.exams is not None else ("manifest",)
    for table in tables:
        source: Source = getattr(data, table)
        read, from_text[table] = _read_source(con, source, config, table, files)
        _read_raw(con, table, read, source, config)
        labels[table] = _label(source, config)
        renames[table] = _stage_table(con, config, table, labels[table])
    if data.labelled is not None:
        _synthesise_exams(con, config)
        labels["exams"] = labels["manifest"]
        renames["exams"] = {}
        from_text["exams"] = False
    if data.database is not None:
        files.append(data.database)
    return Staged(config, con, tuple(files), labels, renames, from_text)


def _attach(con: duckdb.DuckDBPyConnection, path: Path, config: Config) -> None:
    if not path.is_file():
        raise ConfigError(
            f"{display_path(config.path)}: data.database: {display_path(path)} does not exist. "
            f"Check the path (it is relative to the config file's folder)."
        )
    try:
        con.execute(f"ATTACH '{_sql_text(str(path))}' AS source_db (READ_ONLY)")
    except duckdb.Error as exc:
        raise database_error(exc, path) from None


def _read_raw(con: duckdb.DuckDBPyConnection, table: str, read: tuple[str, list[Any]],
              source: Source, config: Config) -> None:
    """`_raw_<table>`: a view over a Parquet file or database table (read again by each check,
    column by column, rather than copied: a copy of 10M shipments costs more than every check),
    over a table for CSV (parsed once); each row with its position in its file. A file that
    cannot be read is a DataError that says which and why (data/reading.py), never DuckDB's
    own exception."""
    try:
        if source.pattern is not None and source.pattern.lower().endswith(".csv"):
            con.execute(f'CREATE TABLE "_csv_{table}" AS {read[0]}', read[1])
            con.execute(f'CREATE VIEW "_raw_{table}" AS SELECT *, rowid AS "{ROW_COLUMN}" '
                        f'FROM "_csv_{table}"')
        else:
            con.sql(read[0], params=read[1]).create_view(f"_raw_{table}")
    except duckdb.Error as exc:
        if source.table is not None:
            assert config.data.database is not None
            raise database_error(exc, config.data.database) from None
        paths = sorted(glob.glob(source.pattern or "", recursive=True))
        kind = "csv" if paths and paths[0].lower().endswith(".csv") else "parquet"
        raise read_error(exc, paths, kind, f"data.{table}") from None


# What DuckDB raises when a source's bytes cannot be read (not a mistake in our own SQL).
READ_ERRORS = (duckdb.IOException, duckdb.InvalidInputException)


def staging_error(config: Config, exc: duckdb.Error) -> DataError:
    """The DataError for a source that failed while the checks or the typing read it (staging
    reads Parquet and database tables through views, so damage past their metadata shows
    then)."""
    if config.data.database is not None:
        return database_error(exc, config.data.database)
    paths = [p for source in (config.data.manifest, config.data.exams) if source is not None
             for p in sorted(glob.glob(source.pattern or "", recursive=True))]
    kind = "csv" if paths and paths[0].lower().endswith(".csv") else "parquet"
    return read_error(exc, paths, kind, "data")


def _sql_text(value: str) -> str:
    # ATTACH takes no bound parameters; the path is ours (from the config) but quote it anyway.
    return value.replace("'", "''")


def _read_source(
    con: duckdb.DuckDBPyConnection, source: Source, config: Config, table: str, files: list[Path]
) -> tuple[tuple[str, list[Any]], bool]:
    if source.table is not None:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'source_db' "
            "UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'source_db'"
        ).fetchall()}
        if source.table not in tables:
            have = ", ".join(sorted(tables)) or "none"
            raise ConfigError(
                f"{display_path(config.path)}: data.{table}.table: no table {source.table!r} in "
                f"{display_path(config.data.database or '')}; it has: {have}."
            )
        return (f'SELECT *, ? AS "{FILE_COLUMN}", row_number() OVER () AS "{ROW_COLUMN}" '
                f"FROM source_db.{ident(source.table)}",
                [_label(source, config)]), False
    paths = sorted(glob.glob(source.pattern or "", recursive=True))
    if not paths:
        raise ConfigError(
            f"{display_path(config.path)}: data.{table}: no files match "
            f"{display_path(source.pattern or '')}. Check the path (relative to the config file)."
        )
    kinds = {Path(p).suffix.lower() for p in paths}
    if len(kinds) > 1:
        raise ConfigError(
            f"{display_path(config.path)}: data.{table}: the pattern matches both .csv and "
            f".parquet files; use one format per table."
        )
    files.extend(Path(p) for p in paths)
    if kinds == {".csv"}:
        return csv_sql(paths, source.encoding, f"data.{table}", FILE_COLUMN), True
    return parquet_sql(paths, FILE_COLUMN, ROW_COLUMN), False


def check_value_columns(staged: Staging) -> None:
    """A value mapping for a column no table has is a typo, not a no-op."""
    present = [c for table in ("manifest", "exams") for c in staged.columns(table)]
    for column in staged.config.data.values:
        if column not in present:
            close = difflib.get_close_matches(column, present, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{display_path(staged.config.path)}: data.values: no table has a column "
                f"{column!r} (names after column mapping){hint}"
            )


def table_label(config: Config, table: str) -> str:
    """How messages name a table's source: its file or glob, or database:table."""
    source = getattr(config.data, table if table == "manifest" or config.data.exams else "manifest")
    return _label(source, config)


def _label(source: Source, config: Config) -> str:
    if source.table is not None:
        return f"{display_path(config.data.database or '')}:{source.table}"
    return display_path(source.pattern or "")


def snake_case(name: str) -> str:
    """A source column name as a contract-style identifier: 'Tax Type' -> 'tax_type'."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name.strip())
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not text:
        return "column"
    return f"col_{text}" if text[0].isdigit() else text


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the staging views and tables (once the typed tables are built from them)."""
    for table in ("exams", "manifest"):
        for stage_name in (f"_src_{table}", f"_raw_{table}", f"_csv_{table}"):
            drop_relation(con, stage_name)


def _stage_table(
    con: duckdb.DuckDBPyConnection, config: Config, table: str, label: str
) -> dict[str, str]:
    """`_src_<table>`: a view renaming and value-mapping `_raw_<table>` (the values are bound
    through the relation API, so the view holds no pasted value); returns contract -> source
    names."""
    raw = [r[0] for r in con.execute(f'DESCRIBE "_raw_{table}"').fetchall()
           if r[0] not in STAGING_COLUMNS]
    names, selects, params = renamed(config, table, label, raw)
    selects += [f'"{FILE_COLUMN}"', f'"{ROW_COLUMN}"']
    con.sql(f'SELECT {", ".join(selects)} FROM "_raw_{table}"',
            params=params or None).create_view(f"_src_{table}")
    return {dst: src for src, dst in names.items() if src != dst}


def renamed(config: Config, table: str, label: str, raw: list[str],
            dialect: Dialect = DUCKDB) -> tuple[dict[str, str], list[str], list[Any]]:
    """A source's columns `raw` under their contract names (data.columns, else snake_case),
    value-mapped (data.values): source -> contract name, the SELECT items and their bound
    values. ConfigError for a mapping of a column the source lacks, or two columns becoming
    one."""
    mapping = config.data.columns.get(table, {})
    _check_mapping_keys(mapping, raw, config, table, label)
    names = {src: mapping.get(src, snake_case(src)) for src in raw}
    _check_collisions(names, config, table, label)
    selects, params = [], []
    for src, dst in names.items():
        expr, expr_params = _value_mapped(ident(src), config.data.values.get(dst), dialect)
        selects.append(f"{expr} AS {ident(dst)}")
        params.extend(expr_params)
    return names, selects, params


def _check_mapping_keys(
    mapping: dict[str, str], raw: list[str], config: Config, table: str, label: str
) -> None:
    for src in mapping:
        if src not in raw:
            close = difflib.get_close_matches(src, raw, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{display_path(config.path)}: data.columns.{table}: source column {src!r} is not "
                f"in {label}; its columns are: {', '.join(raw)}{hint}"
            )


def _check_collisions(names: dict[str, str], config: Config, table: str, label: str) -> None:
    seen: dict[str, str] = {}
    for src, dst in names.items():
        if dst in seen:
            raise ConfigError(
                f"{display_path(config.path)}: data.columns.{table}: source columns {seen[dst]!r} "
                f"and {src!r} in {label} both become {dst!r}. Map one of them to another name."
            )
        seen[dst] = src


def _value_mapped(expr: str, mapping: dict[str, str] | None,
                  dialect: Dialect = DUCKDB) -> tuple[str, list[str]]:
    """`expr` with source values replaced (compared as text); unmapped values pass through."""
    if not mapping:
        return expr, []
    text = f"CAST({expr} AS {dialect.text})"
    cases = " ".join(f"WHEN {text} = ? THEN ?" for _ in mapping)
    params = [v for pair in mapping.items() for v in pair]
    return f"(CASE {cases} ELSE {text} END)", params


def _synthesise_exams(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Labelled mode: one exam per manifest row, result from the label column."""
    labelled = config.data.labelled
    assert labelled is not None
    cols = [r[0] for r in con.execute('DESCRIBE "_src_manifest"').fetchall()]
    sql, params = synthesised_exams_sql(cols, labelled)
    con.execute(f'CREATE TABLE "_src_exams" AS {sql}', params)


def synthesised_exams_sql(columns: list[str], labelled: Labelled,
                          dialect: Dialect = DUCKDB) -> tuple[str, list[Any]]:
    """Labelled mode's exams over `_src_manifest` (with those columns): exam id and date are
    the shipment's; the result is discrepant when the label holds a discrepant value; each row
    keeps its file and position."""
    label = f'"{labelled.column}"' if labelled.column in columns else "NULL"
    match, params = _label_match(label, labelled.discrepant, dialect)
    pick = {c: f'"{c}"' if c in columns else "NULL" for c in ("shipment_id", "arrival_date")}
    return (f"""SELECT
              {pick['shipment_id']} AS exam_id, {pick['shipment_id']} AS shipment_id,
              {pick['arrival_date']} AS exam_date,
              CASE WHEN {label} IS NULL THEN NULL WHEN {match} THEN 'discrepant'
                   ELSE 'no_discrepancy' END AS result,
              {", ".join(ident(c) for c in STAGING_COLUMNS)}
            FROM "_src_manifest" """, params)


def _label_match(label: str, discrepant: tuple[Any, ...],
                 dialect: Dialect = DUCKDB) -> tuple[str, list[Any]]:
    """SQL true when the label equals one of the configured values (numbers compared as numbers)."""
    parts: list[str] = []
    params: list[Any] = []
    text = f"CAST({label} AS {dialect.text})"
    for value in discrepant:
        if isinstance(value, bool):
            parts.append(f"lower({text}) = ?")
            params.append(str(value).lower())
        elif isinstance(value, (int, float)):
            parts.append(f"{text_to('DOUBLE', text, 'TRY_CAST', dialect)} = ?")
            params.append(float(value))
        else:
            parts.append(f"{text} = ?")
            params.append(str(value))
    return "(" + " OR ".join(parts) + ")", params
