"""Synthetic shipment history with planted (hidden) violation patterns, for demos and tests.

`generate` writes manifest.parquet, exams.parquet, truth.parquet and lists/*.txt into a folder.
The same arguments give the same bytes. Work is done one month at a time, so memory stays
bounded by the largest month.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from targeting.errors import ConfigError
from targeting.files import temp_beside, write_atomic
from targeting.generate.exams import exam_rows, select_exams, selectors
from targeting.generate.manifest import EXAMPLE_REPEAT_VIOLATOR, make_parties, month_frame
from targeting.generate.patterns import PATTERNS, patterns_table, violation_probability
from targeting.rules.loader import load_rules
from targeting.text import normalise

__all__ = ["DEFAULT_START", "PATTERNS", "SEASON", "generate", "patterns_table"]

DEFAULT_START = dt.date(2024, 10, 1)
# Relative volume by calendar month: the Q4 shopping peak.
SEASON = {1: 0.9, 2: 0.85, 3: 0.95, 4: 0.95, 5: 0.95, 6: 0.95, 7: 0.95, 8: 1.0, 9: 1.0,
          10: 1.15, 11: 1.35, 12: 1.4}
TABLES = ("manifest", "exams", "truth")
# A month larger than this is drawn in parts, so memory stays bounded whatever the history's
# size (a 100M-shipment history has months of ~6M rows). Months at or under it are drawn whole,
# as before, so smaller histories keep their bytes.
PART_ROWS = 1_000_000


def month_starts(start: dt.date, months: int) -> list[dt.date]:
    """The first day of each month of the history."""
    first = start.replace(day=1)
    return [dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
            for i in range(months)]


def month_sizes(shipments: int, starts: list[dt.date], rng: np.random.Generator) -> np.ndarray:
    """Shipments per month: seasonal weights, a little growth, summing to `shipments`."""
    weight = np.array([SEASON[d.month] * (1 + 0.01 * i) for i, d in enumerate(starts)])
    return rng.multinomial(shipments, weight / weight.sum())


def generate(shipments: int, months: int, seed: int, out: Path | str,
             start: dt.date = DEFAULT_START,
             rule_paths: Iterable[Path | str] = ()) -> dict[str, int]:
    """Write a synthetic history into `out`; return row counts per table."""
    if shipments < 1 or months < 1:
        raise ConfigError("shipments and months must be at least 1")
    out = Path(out)
    (out / "lists").mkdir(parents=True, exist_ok=True)
    root = np.random.default_rng([seed, 0])
    parties = make_parties(shipments, root)
    lists = _write_lists(out / "lists", parties)
    sels = selectors(load_rules([Path(p) for p in rule_paths]), lists) if rule_paths else []
    starts = month_starts(start, months)
    sizes = month_sizes(shipments, starts, root)
    return _write_months(out, parties, sels, starts, sizes, seed)


def _write_months(out: Path, parties, sels, starts, sizes, seed: int) -> dict[str, int]:
    writers = {t: _Writer(out / f"{t}.parquet") for t in TABLES}
    offset = exam_offset = 0
    try:
        for month, (first, n) in enumerate(zip(starts, sizes)):
            for key, part in _month_parts(seed, month, int(n)):
                rng = np.random.default_rng(key)
                frames = _month_part(rng, parties, sels, first, month, len(starts), part,
                                     offset, exam_offset)
                for table, frame in zip(TABLES, frames):
                    writers[table].write(frame)
                offset, exam_offset = offset + part, exam_offset + len(frames[1])
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return {t: w.rows for t, w in writers.items()}


def _month_parts(seed: int, month: int, n: int) -> list[tuple[list[int], int]]:
    """(random seed key, rows) for each part of a month; one part keeps the original key."""
    parts = max(1, -(-n // PART_ROWS))
    if parts == 1:
        return [([seed, 1, month], n)]
    sizes = [n // parts + (i < n % parts) for i in range(parts)]
    return [([seed, 1, month, i], size) for i, size in enumerate(sizes)]


def _month_part(rng, parties, sels, first, month: int, months: int, n: int, offset: int,
                exam_offset: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Manifest, exams and truth for `n` shipments of one month."""
    df, importer = month_frame(rng, parties, first, month, months, n, offset)
    truth = _truth(rng, df, importer, parties, month, months)
    method, selector = select_exams(rng, df, truth["violating"].to_numpy(), sels)
    exams = exam_rows(rng, df, truth["violating"].to_numpy(), method, selector)
    exams = exams.sort("exam_date", "shipment_id").with_columns(exam_id=pl.format(
        "EX{}", (pl.int_range(1, len(exams) + 1) + exam_offset).cast(pl.String)
        .str.zfill(10))).select("exam_id", pl.exclude("exam_id"))
    return df, exams, truth


def _truth(rng, df, importer, parties, month: int, months: int) -> pl.DataFrame:
    repeat = np.isin(importer, parties.repeat)
    trusted = np.isin(importer, parties.trusted)
    p, pattern = violation_probability(df, month, months, repeat, trusted)
    return pl.DataFrame({
        "shipment_id": df["shipment_id"],
        "violating": rng.random(len(df)) < p,
        "pattern": pl.Series(pattern.tolist(), dtype=pl.String),
        "p_violation": p,
    })


def _write_lists(folder: Path, parties) -> dict[str, frozenset[str]]:
    """Lists officers keep; only ~70% of the repeat violators are known and listed."""
    known = np.union1d(parties.repeat[: int(len(parties.repeat) * 0.7)], [EXAMPLE_REPEAT_VIOLATOR])
    lists = {
        "repeat_violators": [f"IMP{i:07d}" for i in np.sort(known)],
        "trusted_importers": [f"IMP{i:07d}" for i in parties.trusted],
    }
    for name, values in lists.items():
        _atomic_text(folder / f"{name}.txt", "".join(v + "\n" for v in values))
    return {name: frozenset(normalise(v) for v in values) for name, values in lists.items()}


def _atomic_text(path: Path, text: str) -> None:
    write_atomic(path, text)


class _Writer:
    """A Parquet file written row group by row group, moved into place only when complete."""

    def __init__(self, path: Path):
        self.path, self.rows, self.writer = path, 0, None
        fd, self.tmp = temp_beside(path)
        os.close(fd)

    def write(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        self.writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        Path(self.tmp).unlink(missing_ok=True)
