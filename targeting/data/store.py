"""The data store: a checked, typed, prepared copy of the sources kept on disk between runs.

Reading, checking and typing a large history costs seconds per million shipments; an officer
testing one query again and again should pay that once. The store is a DuckDB file under
`<project root>/.targeting-cache/data/`, named by a key over the source and list files' paths,
sizes and modification times, the `data:` section of the config and the tool version, so
changing any of them reads the sources again. It holds the tables of data/tables.py. The
folder can be deleted at any time.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import duckdb

from targeting._version import __version__
from targeting.canonical import digest
from targeting.compile.sql import target_lists_table
from targeting.data import tables
from targeting.data.checks import read_dataset
from targeting.data.config import Config
from targeting.data.dataset import Dataset, source_files
from targeting.data.lists import list_files, load_lists
from targeting.data.sources import limit_memory

STORE_FORMAT = 7  # bump when the stored tables change shape or content (7: text.rare_folds)
CACHE_DIR = Path(".targeting-cache")
STORE_DIR = CACHE_DIR / "data"
HITS_DIR = CACHE_DIR / "hits"  # per store build: matches per predicate (backtest/hits.py)
SPILL_DIR = CACHE_DIR / "spill"  # DuckDB's temporary files beyond the memory limit


def store_key(config: Config) -> str:
    """Changes whenever a source or list file, the data config, or the tool changes."""
    files = [*source_files(config), *list_files(config)]
    return digest({"files": [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns]
                             for p in files],
                   "data": config.data.raw, "tool": [__version__, STORE_FORMAT]})


def store_path(config: Config) -> Path:
    return config.root / STORE_DIR / f"{store_key(config)}.duckdb"


def open_stored(config: Config) -> Dataset | None:
    """The stored dataset for the current files, or None when there is none (or it is unreadable)."""
    try:
        path = store_path(config)
    except OSError:
        return None
    if not path.is_file():
        return None
    con = duckdb.connect(":memory:")
    try:
        limit_memory(con)
        # Spill beside the store rather than into ./.tmp, DuckDB's default for in-memory work.
        con.execute(f"SET temp_directory = '{_quoted(config.root / SPILL_DIR)}'")
        con.execute(f"ATTACH '{_quoted(path)}' AS store (READ_ONLY)")
        fingerprint, files, build, first, last = con.execute(
            "SELECT fingerprint, files, build, first_arrival, last_arrival FROM store.meta").fetchall()[0]
        _views(con)
    except duckdb.Error:
        con.close()
        return None
    lists = load_lists(config)
    target_lists_table(con, lists, temp=True)
    # Matches are kept per build, not per store key: row ids are the same only within one file.
    return Dataset(config, con, tuple(Path(f) for f in json.loads(files)), lists, fingerprint,
                   hits_folder=config.root / HITS_DIR / build, arrivals=(first, last))


def build(config: Config) -> Dataset | None:
    """Read, check and type the sources straight into a new store file, then open it.

    Working in a database file rather than in memory lets DuckDB spill to disk, so building the
    store of a large history stays within the memory limit. Returns None when the store cannot
    be written (a read-only project then reads its sources in memory every time); bad data
    raises DataError as usual and leaves no file behind.
    """
    try:
        path = store_path(config)
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        dataset = read_dataset(config, database=str(tmp))
        try:
            _finish(dataset)
        finally:
            dataset.close()
        os.replace(tmp, path)
    except (OSError, duckdb.Error):
        return None
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return open_stored(config)


def _finish(dataset: Dataset) -> None:
    """Turn the typed tables into the store's prepared tables, and record what the data was
    read from."""
    con = dataset.con
    tables.prepare(con, dataset.catalogue)
    con.execute("DROP TABLE IF EXISTS target_lists")  # lists are read from their files each run
    con.execute("""CREATE TABLE meta AS SELECT ?::VARCHAR AS fingerprint, ?::VARCHAR AS files,
        ?::VARCHAR AS build, min(arrival_date) AS first_arrival, max(arrival_date) AS last_arrival
        FROM arrivals""", [dataset.fingerprint, json.dumps([str(f) for f in dataset.files]),
                           uuid.uuid4().hex])
    con.execute("CHECKPOINT")


def _views(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TEMP VIEW manifest_f AS SELECT * FROM store.manifest_f")
    con.execute(f"CREATE TEMP VIEW manifest AS {tables.manifest_view_sql('store.manifest_f', con)}")
    for name in ("exams", "exam_facts", "arrivals"):
        con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM store.{name}")


def _quoted(path: Path) -> str:
    # ATTACH takes no bound parameters; the path is ours (project root + hex key).
    return str(path).replace("'", "''")
