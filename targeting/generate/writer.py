"""Files the generator writes: Parquet tables part by part, and text files, each moved into
place only when complete."""
from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from targeting.files import temp_beside, write_atomic


class PartWriter:
    """A Parquet file written row group by row group, moved into place only when complete."""

    def __init__(self, path: Path):
        self.path, self.rows = path, 0
        self.writer: pq.ParquetWriter | None = None
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


def write_lines(path: Path, values: list[str]) -> None:
    """A list file: one value a line."""
    write_atomic(path, "".join(v + "\n" for v in values))
