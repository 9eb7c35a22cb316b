"""A dataset: the typed manifest and exams, the prepared tables (data/tables.py) and the target
lists in one DuckDB connection; and the fingerprint of the files it was read from."""
from __future__ import annotations

import datetime as dt
import glob
import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from targeting.cache import Cache, cache_key
from targeting.canonical import canonical_json
from targeting.compile.sql import target_lists_table
from targeting.data.config import Config
from targeting.data.contract import (
    CONTRACT,
    TABLES,
    cast_expr,
    ident,
    infer_text_type,
    table_catalogue,
)
from targeting.data.lists import Lists, list_files, load_lists
from targeting.data.sources import Staged
from targeting.db import fetch_frame
from targeting.dialect import DUCKDB, Dialect
from targeting.executor import DuckDBExecutor
from targeting.rules.model import FieldType

if TYPE_CHECKING:
    import polars as pl


class Dataset:
    """Typed manifest and exams, the prepared tables, and the target lists, in one DuckDB
    connection."""

    def __init__(self, config: Config, con: duckdb.DuckDBPyConnection, files: tuple[Path, ...],
                 lists: Lists, fingerprint: str, hits_folder: Path | None = None,
                 arrivals: tuple[dt.date | None, dt.date | None] | None = None):
        self.config = config
        self.con = con
        self.files = files
        self.lists = lists
        self.fingerprint = fingerprint
        self.hits_folder = hits_folder  # where matches are kept: only for stored data (stable rids)
        self._arrivals = arrivals
        self.catalogue: dict[str, FieldType] = table_catalogue(self.con, "manifest")

    @property
    def executor(self) -> DuckDBExecutor:
        """Where backtests run their SQL: this dataset's connection."""
        return DuckDBExecutor(self.con)

    def arrival_range(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last plausible arrival dates (None, None for an empty manifest):
        arrivals before data.earliest or after data.extracted are in no window."""
        if self._arrivals is None:
            first, last = self.con.execute(
                "SELECT min(arrival_date), max(arrival_date) FROM arrivals").fetchall()[0]
            self._arrivals = (first, last)
        first, last = self._arrivals
        low, high = self.config.data.checks.earliest, self.config.data.checks.last_day()
        if first is not None and last is not None and (first < low or last > high):
            first, last = self.con.execute(
                "SELECT min(arrival_date), max(arrival_date) FROM arrivals "
                "WHERE arrival_date BETWEEN ? AND ?", [low, high]).fetchall()[0]
        return first, last

    def manifest_frame(self) -> pl.DataFrame:
        """The typed manifest as a Polars DataFrame."""
        return fetch_frame(self.con, "SELECT * FROM manifest")

    def exams_frame(self) -> pl.DataFrame:
        """The typed exams as a Polars DataFrame."""
        return fetch_frame(self.con, "SELECT * FROM exams")

    def close(self) -> None:
        """Release the DuckDB connection."""
        self.con.close()


def materialise(staged: Staged, lists: Lists | None = None) -> Dataset:
    """Build the typed `manifest`, `exams` and `target_lists` tables from checked staging."""
    for table in TABLES:
        _type_table(staged, table)
    lists = load_lists(staged.config) if lists is None else lists
    target_lists_table(staged.con, lists)
    return Dataset(staged.config, staged.con, staged.files, lists,
                   fingerprint(staged.config, staged.files))


def _type_table(staged: Staged, table: str) -> None:
    con = staged.con
    columns = staged.columns(table)
    inferred = ({name: infer_text_type(con, f"_src_{table}", name) for name in columns
                 if name not in CONTRACT[table]} if staged.from_text[table] else {})
    # Staging is views over the sources: this is the one copy of the rows.
    con.execute(f'CREATE TABLE {ident(table)} AS {typed_sql(table, columns, inferred)}')


def typed_sql(table: str, columns: dict[str, str], inferred: dict[str, str],
              dialect: Dialect = DUCKDB) -> str:
    """The query typing staged `_src_<table>` (its columns with their staged types): contract
    columns get their contract type, others the type `inferred` gives (CSV) or their own."""
    contract = CONTRACT[table]
    selects = []
    for name, kind in columns.items():
        target = contract.get(name) or inferred.get(name) or kind
        selects.append(f"{cast_expr(name, kind, target, dialect=dialect)} AS {ident(name)}")
    if table == "exams":  # metric SQL may reference any exam column
        selects += [f"CAST(NULL AS {dialect.text if t == 'VARCHAR' else t}) AS {ident(n)}"
                    for n, t in contract.items() if n not in columns]
    return f'SELECT {", ".join(selects)} FROM "_src_{table}"'


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


def fingerprint(config: Config, files: tuple[Path, ...] | list[Path]) -> str:
    """sha256 over each source and list file (relative name, size, content hash) + data config:
    the one name of the data that the store, the kept matches and the gate's cache are keyed
    by, so an edit that keeps a file's size and modification time still changes it."""
    digest = hashlib.sha256()
    known = Cache(config.root)
    for path in sorted({*files, *list_files(config)}):
        name = os.path.relpath(path, config.root).replace(os.sep, "/")
        digest.update(f"{name}\0{path.stat().st_size}\0{file_sha256(path, known)}\n".encode())
    digest.update(canonical_json(config.data.raw).encode())
    return digest.hexdigest()


# Content hashes already computed, by what identifies one version of a file: its path, inode,
# size, mtime and ctime. The kernel sets ctime on every write or utime and no user can set it,
# so an edit that restores size and mtime still misses (git's index relies on the same). Kept for
# the process and in the project's cache (an officer's next `test` skips hashing the history:
# 0.28 s of about 1.3 s at 10M shipments), but not for a file changed in the last seconds:
# timestamps are coarse, and a second write in the same tick would look unchanged (git's "racy
# clean" problem). A fresh checkout or copy has new inodes and ctimes, so it hashes again.
_HASHED: dict[tuple[str, int, int, int, int], str] = {}
_RACY_NS = 2_000_000_000


def file_sha256(path: Path, known: Cache | None = None) -> str:
    """The sha256 of a file's content, streamed (0.28 s for the 245 MiB of 10M shipments; see
    docs/benchmarks.md, "Data fingerprint"); `known` remembers it across processes."""
    stat = os.stat(path)
    version = (os.path.abspath(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    key = cache_key(file_version=list(version))
    remembered = _HASHED.get(version) or (known.get("file-sha256", key) if known else None)
    if isinstance(remembered, str):
        _HASHED[version] = remembered
        return remembered
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > _RACY_NS:
        _HASHED[version] = digest
        if known is not None:
            known.put("file-sha256", key, digest)
    return digest
