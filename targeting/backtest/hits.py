"""Matches per predicate, kept on disk between runs, and the key that names a predicate.

A predicate's matches over the whole history depend only on the predicate and the data, so the
per-shipment engine keeps them: one Parquet file of row ids (with port and arrival date) per
predicate hash, in a folder of the store build (row ids are stable only within one store file).
Each file names its build and predicate in its Parquet metadata, and a file whose metadata does
not match its place (copied over another rule's, or from another build) is matched again.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from targeting.rules.model import All, AnyOf, Leaf, Node, Not

CONNECTION_CACHE = "hit_cache"  # (key, rid, port, arrival_date): matches kept in the connection


def predicate_key(where: Node) -> str:
    """A hash of the predicate without source locations: the same condition, the same key."""
    return hashlib.sha256(repr(_plain_tree(where)).encode()).hexdigest()


def _plain_tree(node: Node) -> tuple[Any, ...]:
    """The predicate without source locations, so the same condition has the same key."""
    match node:
        case Leaf(field=name, op=op, value=value):
            return ("leaf", name, op, value)
        case All(children) | AnyOf(children):
            return (type(node).__name__, tuple(_plain_tree(c) for c in children))
        case Not(child):
            return ("not", _plain_tree(child))
    raise TypeError(f"not a predicate node: {node!r}")


def ensure_connection_cache(con: duckdb.DuckDBPyConnection) -> None:
    """The connection-wide table of matched predicates (shared by every backtest of a command)."""
    con.execute(f"""CREATE TEMP TABLE IF NOT EXISTS {CONNECTION_CACHE}
        (key VARCHAR, rid BIGINT, port VARCHAR, arrival_date DATE)""")


class HitCache:
    """Matches per predicate kept on disk for one stored dataset: one Parquet file per predicate
    under `folder` (named by the store build), written atomically. Unwritable: not kept."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.build = folder.name

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.parquet"

    def valid(self, con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> set[str]:
        """Those of `keys` whose file is there and says, in its metadata, that it holds this
        predicate's matches in this build; only the files' footers are read (all in one query,
        or one by one when a file is unreadable)."""
        found = [key for key in keys if self._file(key).is_file()]
        try:
            rows = self._metadata(con, found)
        except (duckdb.Error, UnicodeDecodeError):
            rows = []
            for key in found:
                with contextlib.suppress(duckdb.Error, UnicodeDecodeError):
                    rows += self._metadata(con, [key])
        meta: dict[str, dict[str, str]] = {}
        for name, field, value in rows:
            meta.setdefault(Path(name).stem, {})[field] = value
        return {key for key in found if meta.get(key, {}).get("targeting_build") == self.build
                and meta.get(key, {}).get("targeting_predicate") == key}

    def _metadata(self, con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> list[tuple[str, str, str]]:
        if not keys:
            return []
        rows = con.execute("SELECT file_name, decode(key), decode(value) FROM "
                           "parquet_kv_metadata(?)", [self.files(keys)]).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def load(self, con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> set[str]:
        """Add the kept matches of `keys` to the connection cache; return the keys found. All
        files are read in one query; should one be unreadable (truncated by hand?), each is read
        alone and the bad ones are left to be matched again and rewritten."""
        found = sorted(self.valid(con, keys))
        try:
            self._read(con, found)
            return set(found)
        except duckdb.Error:
            pass
        loaded = set()
        for key in found:
            try:
                self._read(con, [key])
                loaded.add(key)
            except duckdb.Error:
                pass
        return loaded

    def kept(self, con: duckdb.DuckDBPyConnection, keys: set[str]) -> set[str]:
        """Those of `keys` whose matches are on disk (and are theirs)."""
        return self.valid(con, sorted(keys))

    def files(self, keys: Sequence[str]) -> list[str]:
        return [str(self._file(key)) for key in keys]

    def _read(self, con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> None:
        if keys:
            con.execute(f"""INSERT INTO {CONNECTION_CACHE} SELECT parse_filename(filename, true),
                rid, port, arrival_date FROM read_parquet(?, filename = true)""",
                        [[str(self._file(key)) for key in keys]])

    def save(self, con: duckdb.DuckDBPyConnection, key: str) -> None:
        path = self._file(key)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # COPY takes no bound parameter for its target; the path is ours (folder + hex key).
            con.execute(f"""COPY (SELECT rid, port, arrival_date FROM {CONNECTION_CACHE}
                WHERE key = ? ORDER BY rid) TO '{str(tmp).replace("'", "''")}' (FORMAT parquet,
                KV_METADATA {{targeting_build: ?, targeting_predicate: ?}})""",
                        [key, self.build, key])
            os.replace(tmp, path)
        except (OSError, duckdb.Error):
            tmp.unlink(missing_ok=True)
