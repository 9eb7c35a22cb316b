"""The data store: a checked, typed, prepared copy of the sources kept on disk between runs.

Reading, checking and typing a large history costs seconds per million shipments; an officer
testing one query again and again should pay that once. The store is a DuckDB file under
`<project root>/.targeting-cache/data/`, named by a key over the data fingerprint (the source
and list files' names and content hashes, and the `data:` section of the config) and the tool
version, so changing any byte of them reads the sources again; the store records the
fingerprint it was built from and is not used if that differs. It holds the tables of
data/tables.py. Building a store removes all but the most recently used others, with their
kept matches. The folder can be deleted at any time.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path

import duckdb

from targeting._version import __version__
from targeting.canonical import digest
from targeting.compile.sql import target_lists_table
from targeting.data import tables
from targeting.data.checks import read_dataset
from targeting.data.config import Config
from targeting.data.dataset import Dataset, fingerprint, source_files
from targeting.data.lists import load_lists
from targeting.data.sources import drop_staging, limit_memory
from targeting.db import connect

STORE_FORMAT = 11  # bump when the stored tables change shape
KEEP_STORES = 2  # the store just built and the most recently used other one
_BUILDER = re.compile(r"\.(\d+)\.tmp(\.wal)?$")  # .<key>.duckdb.<pid>.tmp[.wal]
CACHE_DIR = Path(".targeting-cache")
STORE_DIR = CACHE_DIR / "data"
HITS_DIR = CACHE_DIR / "hits"  # per store build: matches per predicate (backtest/hits.py)
SPILL_DIR = CACHE_DIR / "spill"  # DuckDB's temporary files beyond the memory limit


def data_fingerprint(config: Config) -> str:
    """The content fingerprint of the configured data (dataset.fingerprint)."""
    return fingerprint(config, source_files(config))


def store_key(config: Config, data: str | None = None) -> str:
    """Changes whenever a byte of a source or list file, the data config, or the tool changes."""
    return digest({"fingerprint": data or data_fingerprint(config),
                   "tool": [__version__, STORE_FORMAT]})


def store_path(config: Config, data: str | None = None) -> Path:
    return config.root / STORE_DIR / f"{store_key(config, data)}.duckdb"


def open_stored(config: Config, data: str | None = None) -> Dataset | None:
    """The stored dataset for the current files (fingerprint `data`), or None when there is
    none, it is unreadable, or it was built from other data."""
    try:
        data = data or data_fingerprint(config)
        path = store_path(config, data)
    except OSError:
        return None
    if not path.is_file():
        return None
    con = connect(":memory:")
    try:
        limit_memory(con)
        # Spill beside the store rather than into ./.tmp, DuckDB's default for in-memory work.
        con.execute(f"SET temp_directory = '{_quoted(config.root / SPILL_DIR)}'")
        con.execute(f"ATTACH '{_quoted(path)}' AS store (READ_ONLY)")
        stored, files, build, first, last = con.execute(
            "SELECT fingerprint, files, build, first_arrival, last_arrival FROM store.meta").fetchall()[0]
        if stored != data:  # a store file copied or renamed by hand: not this data
            con.close()
            return None
        _views(con)
    except duckdb.Error:
        con.close()
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used: kept when another store is built
    lists = load_lists(config)
    target_lists_table(con, lists, temp=True)
    # Matches are kept per build, not per store key: row ids are the same only within one file.
    return Dataset(config, con, tuple(Path(f) for f in json.loads(files)), lists, stored,
                   hits_folder=config.root / HITS_DIR / build, arrivals=(first, last))


def build(config: Config) -> Dataset | None:
    """Read, check and type the sources straight into a new store file, then open it.

    Working in a database file rather than in memory lets DuckDB spill to disk, so building the
    store of a large history stays within the memory limit. Returns None when the store cannot
    be written (a read-only project then reads its sources in memory every time); bad data
    raises DataError as usual and leaves no file behind.
    """
    try:
        data = data_fingerprint(config)
        path = store_path(config, data)
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        dataset = read_dataset(config, database=str(tmp))
        try:
            if dataset.fingerprint != data:  # a source changed while it was read
                return None
            _finish(dataset)
        finally:
            dataset.close()
        os.replace(tmp, path)
    except (OSError, duckdb.Error):
        return None
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    stored = open_stored(config, data)
    if stored is not None and stored.hits_folder is not None:
        clean(config, keep=path, current_build=stored.hits_folder.name)
    return stored


def clean(config: Config, keep: Path, current_build: str) -> None:
    """Remove old stores (all but `keep` and the most recently used others, KEEP_STORES in
    all), the kept matches of every build no remaining store has, and temporary files that
    builders killed before they finished left behind. A process still reading a removed store
    keeps its open file; one whose matches folder goes simply matches again."""
    folder = config.root / STORE_DIR
    stores = sorted(folder.glob("*.duckdb"), key=_mtime, reverse=True)
    others = [p for p in stores if p != keep][: KEEP_STORES - 1]
    for old in set(stores) - {keep, *others}:
        old.unlink(missing_ok=True)
    builds = {current_build} | {b for b in map(_build_of, others) if b}
    hits = config.root / HITS_DIR
    for sub in (hits.iterdir() if hits.is_dir() else []):
        if sub.is_dir() and sub.name not in builds:
            shutil.rmtree(sub, ignore_errors=True)
    for leftover in folder.glob(".*.tmp*"):
        builder = _BUILDER.search(leftover.name)
        if builder and not _alive(int(builder.group(1))):
            leftover.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _build_of(path: Path) -> str | None:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute("SELECT build FROM meta").fetchone()
        return str(row[0]) if row else None
    except duckdb.Error:
        return None
    finally:
        con.close()


def _alive(pid: int) -> bool:
    """Whether the process that named a temporary file is still running (it may be building)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _finish(dataset: Dataset) -> None:
    """Turn the typed tables into the store's prepared tables, and record what the data was
    read from."""
    con = dataset.con
    drop_staging(con)
    tables.prepare(con)
    con.execute("DROP VIEW manifest_f")  # rowid views are made at open (see _views)
    con.execute("DROP TABLE IF EXISTS target_lists")  # lists are read from their files each run
    con.execute("""CREATE TABLE meta AS SELECT ?::VARCHAR AS fingerprint, ?::VARCHAR AS files,
        ?::VARCHAR AS build, min(arrival_date) AS first_arrival, max(arrival_date) AS last_arrival
        FROM arrivals""", [dataset.fingerprint, json.dumps([str(f) for f in dataset.files]),
                           uuid.uuid4().hex])
    con.execute("CHECKPOINT")


def _views(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("manifest", "exams", "exam_facts", "arrivals"):
        con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM store.{name}")
    con.execute(f"CREATE TEMP VIEW manifest_f AS {tables.manifest_f_sql('store.manifest')}")


def _quoted(path: Path) -> str:
    # ATTACH takes no bound parameters; the path is ours (project root + hex key).
    return str(path).replace("'", "''")
