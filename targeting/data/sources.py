"""Read the configured sources into staging tables with contract column names.

`stage` reads each source into `_src_manifest` / `_src_exams`: renamed, value-mapped, still raw
types, and with the file each row came from, so the contract checks can name it.
"""
from __future__ import annotations

import difflib
import glob
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from targeting.data.config import Config, Labelled, Source, display_path
from targeting.data.contract import ident, text_to
from targeting.dialect import DUCKDB, Dialect
from targeting.errors import ConfigError

FILE_COLUMN = "_source_file"  # which file each staged row came from, for messages


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
    row_order: str = "rowid"

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params).fetchall()

    def columns(self, table: str) -> dict[str, str]:
        """Staged column name -> DuckDB type, without the file column."""
        rows = self.con.execute(f'DESCRIBE "_src_{table}"').fetchall()
        return {name: kind for name, kind, *_ in rows if name != FILE_COLUMN}

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
    con = duckdb.connect(database)
    if database != ":memory:":
        limit_memory(con)
    try:
        staged = _stage(con, config)
        _check_value_columns(staged)
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
        con.execute(f'CREATE TABLE "_raw_{table}" AS {read[0]}', read[1])
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
    con.execute(f"ATTACH '{_sql_text(str(path))}' AS source_db (READ_ONLY)")


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
        return (f'SELECT *, ? AS "{FILE_COLUMN}" FROM source_db.{ident(source.table)}',
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
        sql = (f"SELECT * FROM read_csv(?, header=true, all_varchar=true, union_by_name=true, "
               f"filename='{FILE_COLUMN}')")
        return (sql, [paths]), True
    sql = f"SELECT * FROM read_parquet(?, union_by_name=true, filename='{FILE_COLUMN}')"
    return (sql, [paths]), False


def _check_value_columns(staged: Staging) -> None:
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


def _stage_table(
    con: duckdb.DuckDBPyConnection, config: Config, table: str, label: str
) -> dict[str, str]:
    """Rename and value-map `_raw_<table>` into `_src_<table>`; returns contract -> source names."""
    raw = [r[0] for r in con.execute(f'DESCRIBE "_raw_{table}"').fetchall() if r[0] != FILE_COLUMN]
    mapping = config.data.columns.get(table, {})
    _check_mapping_keys(mapping, raw, config, table, label)
    names = {src: mapping.get(src, snake_case(src)) for src in raw}
    _check_collisions(names, config, table, label)
    selects, params = [], []
    for src, dst in names.items():
        expr, expr_params = _value_mapped(ident(src), config.data.values.get(dst))
        selects.append(f'{expr} AS "{dst}"')
        params.extend(expr_params)
    selects.append(f'"{FILE_COLUMN}"')
    con.execute(
        f'CREATE TABLE "_src_{table}" AS SELECT {", ".join(selects)} FROM "_raw_{table}"', params
    )
    con.execute(f'DROP TABLE "_raw_{table}"')
    return {dst: src for src, dst in names.items() if src != dst}


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


def synthesised_exams_sql(columns: list[str], labelled: Labelled, dialect: Dialect = DUCKDB,
                          carry: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """Labelled mode's exams over `_src_manifest` (with those columns): exam id and date are
    the shipment's; the result is discrepant when the label holds a discrepant value. The
    `carry` columns are copied as they are."""
    label = f'"{labelled.column}"' if labelled.column in columns else "NULL"
    match, params = _label_match(label, labelled.discrepant, dialect)
    pick = {c: f'"{c}"' if c in columns else "NULL" for c in ("shipment_id", "arrival_date")}
    return (f"""SELECT
              {pick['shipment_id']} AS exam_id, {pick['shipment_id']} AS shipment_id,
              {pick['arrival_date']} AS exam_date,
              CASE WHEN {label} IS NULL THEN NULL WHEN {match} THEN 'discrepant'
                   ELSE 'no_discrepancy' END AS result,
              {", ".join(ident(c) for c in (FILE_COLUMN, *carry))}
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
