"""The data store: a checked, typed copy of the sources kept on disk between runs.

Reading, checking and typing a large history costs seconds per million shipments; an officer
testing one query again and again should pay that once. The store is a DuckDB file under
`<project root>/.targeting-cache/data/`, named by a key over the source and list files' paths,
sizes and modification times, the `data:` section of the config and the tool version, so
changing any of them reads the sources again. It also holds the folded copy of every text column
the rule compilers compare (see engine.ensure_folded). The folder can be deleted at any time.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import duckdb

from targeting._version import __version__
from targeting.backtest.shipments import ARRIVALS_SQL, FOLD_PREFIX, RID, HitCache, exam_facts_sql
from targeting.compile.sql import folded_sql
from targeting.data.config import Config
from targeting.data.dataset import (
    Dataset,
    limit_memory,
    list_files,
    load_lists,
    read_dataset,
    source_files,
    target_lists_table,
)

STORE_FORMAT = 5  # bump when the stored tables change shape
STORE_DIR = Path(".targeting-cache") / "data"
HITS_DIR = Path(".targeting-cache") / "hits"
SPILL_DIR = Path(".targeting-cache") / "spill"  # DuckDB's temporary files beyond the memory limit  # per store key: matches per predicate (engine.HitCache)


def store_key(config: Config) -> str:
    """Changes whenever a source or list file, the data config, or the tool changes."""
    parts = [f"{p.resolve()}\0{p.stat().st_size}\0{p.stat().st_mtime_ns}" for p in [*source_files(config), *list_files(config)]]
    parts.append(json.dumps(config.data.raw, sort_keys=True, default=str))
    parts.append(f"{__version__}\0{STORE_FORMAT}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


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
    # Matches are keyed by the build, not the store key: row ids are the same only within one file.
    return Dataset(config, con, tuple(Path(f) for f in json.loads(files)), lists, fingerprint,
                   hit_cache=HitCache(config.root / HITS_DIR / build), arrivals=(first, last))


def build(config: Config) -> Dataset | None:
    """Read, check and type the sources straight into a new store file, then open it.

    Working in a database file rather than in memory lets DuckDB spill to disk, so building the
    store of a large history stays within MEMORY_LIMIT. Returns None when the store cannot be
    written (a read-only project then reads its sources in memory every time); bad data raises
    DataError as usual and leaves no file behind.
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
    """Turn the typed tables into the store's: the manifest with row ids and folded text, the
    exams, and what the data was read from."""
    con = dataset.con
    text = sorted(name for name, kind in dataset.catalogue.items() if kind == "text")
    folded = "".join(f', {folded_sql(name, dataset.catalogue)} AS "{FOLD_PREFIX}{name}"' for name in text)
    con.execute(f'CREATE TABLE manifest_f AS SELECT row_number() OVER () AS "{RID}", *{folded} FROM manifest')
    con.execute("DROP TABLE manifest")
    con.execute(f"CREATE TABLE exam_facts AS {exam_facts_sql()}")
    con.execute(f"CREATE TABLE arrivals AS {ARRIVALS_SQL}")
    con.execute("DROP TABLE IF EXISTS target_lists")  # lists are read from their files each run
    con.execute("""CREATE TABLE meta AS SELECT ?::VARCHAR AS fingerprint, ?::VARCHAR AS files,
        ?::VARCHAR AS build, min(arrival_date) AS first_arrival, max(arrival_date) AS last_arrival
        FROM manifest_f""", [dataset.fingerprint, json.dumps([str(f) for f in dataset.files]),
                             uuid.uuid4().hex])
    con.execute("CHECKPOINT")


def _views(con: duckdb.DuckDBPyConnection) -> None:
    folded = [r[0] for r in con.execute("DESCRIBE store.manifest_f").fetchall()
              if r[0].startswith(FOLD_PREFIX) or r[0] == RID]
    exclude = f" EXCLUDE ({', '.join(_ident(c) for c in folded)})" if folded else ""
    con.execute("CREATE TEMP VIEW manifest_f AS SELECT * FROM store.manifest_f")
    con.execute(f"CREATE TEMP VIEW manifest AS SELECT *{exclude} FROM store.manifest_f")
    con.execute("CREATE TEMP VIEW exams AS SELECT * FROM store.exams")
    con.execute("CREATE TEMP VIEW exam_facts AS SELECT * FROM store.exam_facts")
    con.execute("CREATE TEMP VIEW arrivals AS SELECT * FROM store.arrivals")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quoted(path: Path) -> str:
    # ATTACH takes no bound parameters; the path is ours (project root + hex key).
    return str(path).replace("'", "''")
