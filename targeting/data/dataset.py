"""Open manifest and exam data, apply the column mapping, and type it per the data contract.

Loading happens in two steps so the contract can be checked on the raw values first:
`stage` reads the sources into `_src_manifest` / `_src_exams` (renamed, value-mapped, still
raw types), and `materialise` builds the typed `manifest` / `exams` tables from them.
`open_dataset` runs both with the checks in between.
"""
from __future__ import annotations

import csv
import datetime as dt
import difflib
import glob
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from targeting.data.config import Config, Source, display_path
from targeting.db import fetch_frame
from targeting.errors import ConfigError, DataError
from targeting.rules.model import FieldType
from targeting.text import normalise  # shared with the rule compilers so list matching agrees

FILE_COLUMN = "_source_file"  # which file each staged row came from, for messages

# Contract columns: name -> DuckDB type. Required ones must be present in the source.
MANIFEST_COLUMNS: dict[str, str] = {
    "shipment_id": "VARCHAR",
    "arrival_date": "DATE",
    "port_code": "VARCHAR",
    "mode": "VARCHAR",
    "importer_id": "VARCHAR",
    "consignee_id": "VARCHAR",
    "shipper_id": "VARCHAR",
    "carrier_code": "VARCHAR",
    "hts_code": "VARCHAR",
    "description": "VARCHAR",
    "country_of_origin": "VARCHAR",
    "country_of_export": "VARCHAR",
    "quantity": "DOUBLE",
    "declared_value": "DOUBLE",
    "weight_kg": "DOUBLE",
}
EXAM_COLUMNS: dict[str, str] = {
    "exam_id": "VARCHAR",
    "shipment_id": "VARCHAR",
    "exam_date": "DATE",
    "result": "VARCHAR",
    "disposition": "VARCHAR",
    "selection_method": "VARCHAR",
    "selector_id": "VARCHAR",
    "msrp": "DOUBLE",
    "domestic_value": "DOUBLE",
    "referred_to_ice": "BOOLEAN",
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "manifest": ("shipment_id", "arrival_date", "port_code"),
    "exams": ("shipment_id", "result"),
}
CONTRACT = {"manifest": MANIFEST_COLUMNS, "exams": EXAM_COLUMNS}
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "result": ("discrepant", "no_discrepancy"),
    "disposition": ("seizure", "voluntary_abandonment", "refused_entry", "penalty", "other"),
    "selection_method": ("udr", "query", "observation", "random", "tip", "other"),
}
NON_NEGATIVE = ("quantity", "declared_value", "weight_kg", "msrp", "domestic_value")
CATALOGUE_TYPES: dict[str, FieldType] = {
    "VARCHAR": "text", "BOOLEAN": "bool", "DATE": "date", "TIMESTAMP": "date",
    "TIMESTAMP WITH TIME ZONE": "date", "TIMESTAMP_NS": "date", "TIMESTAMP_MS": "date",
    "TIMESTAMP_S": "date",
}
NUMERIC = re.compile(r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL.*)$")


@dataclass(frozen=True)
class Staged:
    """Sources read into `_src_<table>` with contract names, before the checks and typing."""

    config: Config
    con: duckdb.DuckDBPyConnection
    files: tuple[Path, ...]
    labels: dict[str, str]  # table -> how to name its source in messages
    renames: dict[str, dict[str, str]]  # table -> contract name -> source name
    from_text: dict[str, bool]  # table -> read from CSV (every column text)

    def columns(self, table: str) -> dict[str, str]:
        """Staged column name -> DuckDB type, without the file column."""
        rows = self.con.execute(f'DESCRIBE "_src_{table}"').fetchall()
        return {name: kind for name, kind, *_ in rows if name != FILE_COLUMN}

    def source_name(self, table: str, column: str) -> str:
        """The column's name in the source file, for messages."""
        return self.renames[table].get(column, column)


class Dataset:
    """Typed manifest, exams and target lists in an in-memory DuckDB connection."""

    def __init__(self, config: Config, con: duckdb.DuckDBPyConnection, files: tuple[Path, ...],
                 lists: dict[str, frozenset[str]], fingerprint: str, hit_cache=None,
                 arrivals: tuple | None = None):
        self.config = config
        self.con = con
        self.files = files
        self.lists = lists
        self.fingerprint = fingerprint
        self.hit_cache = hit_cache  # engine.HitCache for stored data, whose row ids are stable
        self._arrivals = arrivals  # the store knows them; otherwise computed once
        self.catalogue: dict[str, FieldType] = table_catalogue(self.con, "manifest")

    def arrival_range(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last arrival dates (None, None for an empty manifest)."""
        if self._arrivals is None:
            self._arrivals = tuple(self.con.execute(
                "SELECT min(arrival_date), max(arrival_date) FROM manifest").fetchall()[0])
        return self._arrivals

    def manifest_frame(self) -> pl.DataFrame:
        """The typed manifest as a Polars DataFrame."""
        return fetch_frame(self.con, 'SELECT * FROM "manifest"')

    def exams_frame(self) -> pl.DataFrame:
        """The typed exams as a Polars DataFrame."""
        return fetch_frame(self.con, 'SELECT * FROM "exams"')

    def close(self) -> None:
        """Release the DuckDB connection."""
        self.con.close()


def open_dataset(config: Config, use_store: bool | None = None) -> Dataset:
    """Read, check and type the configured data; DataError (exit 2) lists every problem.

    A checked, typed copy is kept in the project's store (see store.py) and reused while the
    source files are unchanged; `use_store=False` or TARGETING_STORE=0 reads the sources.
    """
    from targeting.data import store

    if use_store is None:
        use_store = os.environ.get("TARGETING_STORE", "1") != "0"
    if use_store:
        stored = store.open_stored(config) or store.build(config)
        if stored is not None:
            return stored
    return read_dataset(config)


def read_dataset(config: Config, database: str = ":memory:") -> Dataset:
    """Stage, check and type the sources, in memory or in the given DuckDB database file."""
    from targeting.data.checks import check_staged  # checks imports this module

    staged = stage(config, database)
    report = check_staged(staged)
    if report.problems:
        staged.con.close()
        error = DataError("\n".join(str(p) for p in report.problems))
        error.problems = list(report.problems)  # type: ignore[attr-defined]
        raise error
    return materialise(staged)


# --- staging ---------------------------------------------------------------------------


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
        return (f'SELECT *, ? AS "{FILE_COLUMN}" FROM source_db."{_ident(source.table)}"',
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


def _check_value_columns(staged: Staged) -> None:
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


def _ident(name: str) -> str:
    return name.replace('"', '""')


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
        expr, expr_params = _value_mapped(f'"{_ident(src)}"', config.data.values.get(dst))
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


def _value_mapped(expr: str, mapping: dict[str, str] | None) -> tuple[str, list[str]]:
    """`expr` with source values replaced (compared as text); unmapped values pass through."""
    if not mapping:
        return expr, []
    text = f"CAST({expr} AS VARCHAR)"
    cases = " ".join(f"WHEN {text} = ? THEN ?" for _ in mapping)
    params = [v for pair in mapping.items() for v in pair]
    return f"(CASE {cases} ELSE {text} END)", params


def _synthesise_exams(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Labelled mode: one exam per manifest row, result from the label column."""
    labelled = config.data.labelled
    assert labelled is not None
    cols = [r[0] for r in con.execute('DESCRIBE "_src_manifest"').fetchall()]
    label = f'"{labelled.column}"' if labelled.column in cols else "NULL"
    match, params = _label_match(label, labelled.discrepant)
    pick = {c: f'"{c}"' if c in cols else "NULL" for c in ("shipment_id", "arrival_date")}
    con.execute(
        f"""CREATE TABLE "_src_exams" AS SELECT
              {pick['shipment_id']} AS exam_id, {pick['shipment_id']} AS shipment_id,
              {pick['arrival_date']} AS exam_date,
              CASE WHEN {label} IS NULL THEN NULL WHEN {match} THEN 'discrepant'
                   ELSE 'no_discrepancy' END AS result,
              "{FILE_COLUMN}"
            FROM "_src_manifest" """,
        params,
    )


def _label_match(label: str, discrepant: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """SQL true when the label equals one of the configured values (numbers compared as numbers)."""
    parts, params = [], []
    for value in discrepant:
        if isinstance(value, bool):
            parts.append(f"lower(CAST({label} AS VARCHAR)) = ?")
            params.append(str(value).lower())
        elif isinstance(value, (int, float)):
            parts.append(f"TRY_CAST(CAST({label} AS VARCHAR) AS DOUBLE) = ?")
            params.append(float(value))
        else:
            parts.append(f"CAST({label} AS VARCHAR) = ?")
            params.append(str(value))
    return "(" + " OR ".join(parts) + ")", params


# --- typing ----------------------------------------------------------------------------


def cast_expr(column: str, source_type: str, target: str, cast: str = "CAST") -> str:
    """SQL turning a staged column into its contract type (text goes through VARCHAR).

    `cast="TRY_CAST"` gives NULL where a value does not convert (used by the checks).
    """
    col = f'"{_ident(column)}"'
    if source_type == target:
        return col
    if target == "VARCHAR":
        if source_type in ("FLOAT", "DOUBLE"):
            # a float column holding codes (40.0) should read as the code (40)
            return (f"CASE WHEN isfinite({col}) AND {col} = trunc({col}) "
                    f"THEN CAST(CAST({col} AS HUGEINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END")
        return f"CAST({col} AS VARCHAR)"
    if target == "DATE" and source_type.startswith("TIMESTAMP"):
        return f"CAST({col} AS DATE)"
    if target == "DOUBLE" and NUMERIC.match(source_type):
        return f"CAST({col} AS DOUBLE)"
    if target == "BOOLEAN":
        return f"{cast}(lower(trim(CAST({col} AS VARCHAR))) AS BOOLEAN)"
    return f"{cast}(trim(CAST({col} AS VARCHAR)) AS {target})"


def infer_text_type(con: duckdb.DuckDBPyConnection, table: str, column: str) -> str:
    """The type a text column from a CSV should get: BOOLEAN, DOUBLE, DATE, else VARCHAR.

    Numbers with a leading zero ('007') stay text: they are codes, not quantities.
    """
    col = f'"{_ident(column)}"'
    row = con.execute(
        f"""SELECT count({col}),
              count_if(lower(trim({col})) IN ('true', 'false')),
              count_if(TRY_CAST(trim({col}) AS DOUBLE) IS NOT NULL
                       AND isfinite(TRY_CAST(trim({col}) AS DOUBLE))
                       AND NOT regexp_matches(trim({col}), '^[-+]?0[0-9]')),
              count_if(regexp_matches(trim({col}), '^\\d{{4}}-\\d{{2}}-\\d{{2}}$')
                       AND TRY_CAST(trim({col}) AS DATE) IS NOT NULL)
            FROM "{table}" """
    ).fetchone()
    assert row is not None
    total, bools, numbers, dates = row
    if total == 0:
        return "VARCHAR"
    for count, kind in ((bools, "BOOLEAN"), (numbers, "DOUBLE"), (dates, "DATE")):
        if count == total:
            return kind
    return "VARCHAR"


def materialise(staged: Staged, lists: dict[str, frozenset[str]] | None = None) -> Dataset:
    """Build the typed `manifest`, `exams` and `target_lists` tables from checked staging."""
    for table in ("manifest", "exams"):
        _type_table(staged, table)
    lists = load_lists(staged.config) if lists is None else lists
    target_lists_table(staged.con, lists)
    return Dataset(staged.config, staged.con, staged.files, lists,
                   fingerprint(staged.config, staged.files))


def _type_table(staged: Staged, table: str) -> None:
    con, contract = staged.con, CONTRACT[table]
    selects = []
    columns = staged.columns(table)
    for name, kind in columns.items():
        if name in contract:
            target = contract[name]
        elif staged.from_text[table]:
            target = infer_text_type(con, f"_src_{table}", name)
        else:
            target = kind
        selects.append(f'{cast_expr(name, kind, target)} AS "{_ident(name)}"')
    if table == "exams":  # metric SQL may reference any exam column
        selects += [f'CAST(NULL AS {t}) AS "{n}"' for n, t in contract.items() if n not in columns]
    con.execute(f'CREATE TABLE "{table}" AS SELECT {", ".join(selects)} FROM "_src_{table}"')
    con.execute(f'DROP TABLE "_src_{table}"')


def table_catalogue(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, FieldType]:
    """Field name -> rule field type for a table's columns (unsupported types left out)."""
    result: dict[str, FieldType] = {}
    for name, kind, *_ in con.execute(f'DESCRIBE "{table}"').fetchall():
        field_type = CATALOGUE_TYPES.get(kind) or ("number" if NUMERIC.match(kind) else None)
        if field_type is not None:
            result[name] = field_type
    return result


# --- lists -----------------------------------------------------------------------------


def load_lists(config: Config) -> dict[str, frozenset[str]]:
    """Named value lists from the lists folder, normalised: {file stem: values}."""
    folder = config.lists_dir
    if not folder.is_dir():
        if config.lists_explicit:
            raise ConfigError(
                f"{display_path(config.path)}: lists: folder {display_path(folder)} does not "
                f"exist. Create it or remove the 'lists' key."
            )
        return {}
    lists: dict[str, frozenset[str]] = {}
    for path in list_files(config):
        if path.stem in lists:
            raise DataError(
                f"{display_path(path)}: list {path.stem!r} is defined twice (.txt and .csv); "
                f"keep one file per list name."
            )
        values = _read_list(path)
        lists[path.stem] = frozenset(normalise(v) for v in values if normalise(v))
    return lists


def list_files(config: Config) -> list[Path]:
    """The .txt and .csv files in the lists folder, sorted."""
    if not config.lists_dir.is_dir():
        return []
    return sorted(p for p in config.lists_dir.iterdir()
                  if p.is_file() and p.suffix.lower() in (".txt", ".csv"))


def _read_list(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".txt":
        lines = (line.strip() for line in text.splitlines())
        return [line for line in lines if line and not line.startswith("#")]
    rows = [row for row in csv.reader(text.splitlines()) if row]
    if rows and rows[0][0].strip().lower() == "value":
        rows = rows[1:]
    return [row[0] for row in rows]


def target_lists_table(con: duckdb.DuckDBPyConnection, lists: dict[str, frozenset[str]],
                       temp: bool = False) -> None:
    """`target_lists(list_name, value)`: every list's values, the table `in_list` reads."""
    names = [name for name in sorted(lists) for _ in lists[name]]
    values = [value for name in sorted(lists) for value in sorted(lists[name])]
    # Two bound lists unnested side by side: one statement, however long the lists.
    con.execute(f"""CREATE {"TEMP " if temp else ""}TABLE target_lists AS
        SELECT unnest(?::VARCHAR[]) AS list_name, unnest(?::VARCHAR[]) AS value""", [names, values])


# --- fingerprint -----------------------------------------------------------------------


def source_files(config: Config) -> list[Path]:
    """The files the configured manifest and exams are read from (globs expanded, database)."""
    files: list[Path] = []
    for source in (config.data.manifest, config.data.exams):
        if source is not None and source.pattern:
            files += [Path(p) for p in sorted(glob.glob(source.pattern, recursive=True))]
    if config.data.database is not None:
        files.append(config.data.database)
    return files


def fingerprint(config: Config, files: tuple[Path, ...]) -> str:
    """sha256 over each source and list file (relative name, size, content hash) + data config."""
    digest = hashlib.sha256()
    for path in sorted({*files, *list_files(config)}):
        name = os.path.relpath(path, config.root).replace(os.sep, "/")
        digest.update(f"{name}\0{path.stat().st_size}\0{_file_sha256(path)}\n".encode())
    digest.update(json.dumps(_text_keys(config.data.raw), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _text_keys(value: Any) -> Any:
    # YAML allows int and str keys side by side, which json cannot sort together
    if isinstance(value, dict):
        return {str(k): _text_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_keys(v) for v in value]
    return value


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
