"""Read source files with DuckDB, and say what is wrong with one that cannot be read.

A CSV file's layout (encoding, delimiter, header) is read here from its first megabyte and
given to DuckDB explicitly: DuckDB's own sniffer, handed a file whose last row has one field
too many, took that row for the header and read no data at all. With the layout fixed, DuckDB
reads strictly and a ragged row, a quote left open, an overlong line or bytes in another
encoding stop the read with the line number, which `read_error` turns into a message naming
the file, the line, what is wrong and the fix. Parquet files and DuckDB databases that cannot
be read are looked at (empty, cut short, another format) to say why.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from targeting.data.config import display_path
from targeting.data.problems import unreadable
from targeting.errors import DataError

HEAD = 1 << 16  # what is read to find a CSV file's layout ...
HEAD_MAX = 1 << 20  # ... or, when its header row is longer, up to this
DELIMITERS = ",;\t|"
MAX_LINE = 2_097_152  # DuckDB's max_line_size default
_UTF16 = {codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16-be"}


@dataclass(frozen=True)
class CsvLayout:
    """How to read one CSV file: DuckDB's encoding name, the delimiter, the column names."""

    encoding: str
    delimiter: str
    columns: tuple[str, ...]


def csv_sql(paths: Sequence[str], encoding: str | None, key: str,
            file_column: str) -> tuple[str, list[Any]]:
    """A query reading CSV files as text columns, each file with its own layout (files that
    share one are read together), united by column name."""
    groups: dict[CsvLayout, list[str]] = {}
    for path in paths:
        groups.setdefault(csv_layout(Path(path), encoding, key), []).append(path)
    selects, params = [], []
    for layout, files in groups.items():
        selects.append(
            "SELECT * FROM read_csv(?, auto_detect=false, header=true, delim=?, quote='\"', "
            f"escape='\"', columns=?, strict_mode=true, encoding=?, filename='{file_column}')")
        params += [files, layout.delimiter, dict.fromkeys(layout.columns, "VARCHAR"),
                   layout.encoding]
    return " UNION ALL BY NAME ".join(selects), params


def csv_layout(path: Path, encoding: str | None, key: str) -> CsvLayout:
    """The layout of one CSV file; DataError when it is empty, binary or another format."""
    shown = display_path(path)
    head = _head(path, HEAD)
    if b"\n" not in head and len(head) == HEAD:
        head = _head(path, HEAD_MAX)
    if not head:
        raise unreadable(shown, "the file is empty (0 bytes); a CSV file needs at least a "
                         f"header row naming its columns. Export it again, or point {key} at "
                         "the right file.")
    name = _encoding(head, encoding, shown)
    text = _decoded(head, name)
    if "\x00" in text:
        other = _other_format(head)
        raise unreadable(shown, f"the file is {other or 'binary data (it holds NUL bytes)'}, "
                         f"not CSV text. {_fix_for(other, key)}")
    return CsvLayout(name if name != "utf-16-le" else "utf-16", *_header(text, shown))


def _head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _encoding(head: bytes, configured: str | None, shown: str) -> str:
    """DuckDB's name for the file's encoding: as configured, else from a byte order mark or
    the NUL bytes of UTF-16 text, else UTF-8."""
    if configured is not None:
        return configured
    boms = [name for bom, name in _UTF16.items() if head.startswith(bom)]
    name = boms[0] if boms else _bomless_utf16(head) or "utf-8"
    if name == "utf-16-be":
        raise unreadable(shown, "the file is UTF-16 big-endian text, which cannot be read. "
                         "Save it as UTF-8 (or UTF-16 little-endian).", "encoding")
    return name


def _bomless_utf16(head: bytes) -> str | None:
    sample = head[:4096]
    if len(sample) < 4 or sample.count(0) < len(sample) // 4:
        return None
    odd_nuls = sample[1::2].count(0)
    even_nuls = sample[0::2].count(0)
    if odd_nuls > 3 * even_nuls:
        return "utf-16-le"
    return "utf-16-be" if even_nuls > 3 * odd_nuls else None


def _decoded(head: bytes, encoding: str) -> str:
    codec = {"utf-8": "utf-8-sig", "utf-16": "utf-16"}.get(encoding, encoding)
    return head.decode(codec, errors="replace")


def _header(text: str, shown: str) -> tuple[str, tuple[str, ...]]:
    """The delimiter and column names from the header row; names as DuckDB gives them (an
    empty one is column<i>, a repeated one gets _1, _2, ...)."""
    first = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=lambda d: (_count_outside_quotes(first, d), d == ","))
    try:
        row = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error as exc:
        raise unreadable(shown, f"the header row cannot be read ({exc}). Check its quotes.") \
            from None
    names: list[str] = []
    for i, name in enumerate(row):
        base = name if name.strip() else f"column{i}"
        unique, n = base, 0
        while unique in names:
            n += 1
            unique = f"{base}_{n}"
        names.append(unique)
    if not names:
        raise unreadable(shown, "the first line is empty; a CSV file starts with a header row "
                         "naming its columns. Remove the blank lines above it.")
    return delimiter, tuple(names)


def _count_outside_quotes(line: str, delimiter: str) -> int:
    return sum(part.count(delimiter) for part in line.split('"')[::2])


def parquet_sql(paths: Sequence[str], file_column: str,
                row_column: str) -> tuple[str, list[Any]]:
    """A query reading Parquet files, their columns united by name, with each row's file and
    its position in that file."""
    return (f'SELECT * RENAME (file_row_number AS "{row_column}") FROM read_parquet(?, '
            f"union_by_name=true, filename='{file_column}', file_row_number=true)",
            [list(paths)])


# --- why a read failed -----------------------------------------------------------------


def read_error(exc: Exception, paths: Sequence[str], kind: str, key: str) -> DataError:
    """The DataError for a failed read of `paths` (kind: csv or parquet): which file, which
    line, what is wrong with it and how to fix it."""
    text = str(exc)
    path = _named_file(text, paths)
    if kind == "csv":
        return unreadable(display_path(path) if path else ", ".join(map(display_path, paths)),
                          *_csv_problem(text, key))
    if path is None:
        path = failing_parquet(paths) or (paths[0] if len(paths) == 1 else None)
    if path is None:
        return unreadable(", ".join(display_path(p) for p in paths),
                          f"one of these files cannot be read as Parquet ({detail(text)}). "
                          "Export them again.")
    return unreadable(display_path(path), _parquet_problem(Path(path), text, key))


def _named_file(text: str, paths: Sequence[str]) -> str | None:
    named = (re.search(r"file = (.+)", text)
             or re.search(r"""file ['"]([^'"]+)['"]""", text, re.IGNORECASE))
    if named:
        for path in paths:
            if path == named.group(1).strip() or Path(path).name == Path(named.group(1).strip()).name:
                return path
    return paths[0] if len(paths) == 1 else None


def _csv_problem(text: str, key: str) -> tuple[str, str]:
    """(message, code) for a strict CSV read that stopped."""
    line_match = re.search(r"CSV Error on Line: (\d+)", text)
    where = f"line {int(line_match.group(1)):,}" if line_match else "a line"
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if columns:
        want, got = int(columns.group(1)), int(columns.group(2))
        return (f"{where} has {got} fields but the header has {want}. A field that holds the "
                "delimiter must be in double quotes; correct that line.", "ragged-row")
    if "Invalid unicode" in text:
        return (f"{where} is not UTF-8 text. If the file was saved in Latin-1 (as Windows "
                f"exports often are), write {key}: {{path: ..., encoding: latin-1}}; otherwise "
                "save it as UTF-8.", "encoding")
    if "Maximum line size" in text:
        return (f"{where} is longer than {MAX_LINE:,} bytes, the most one row may have. A row "
                "that long is usually a quote left open, which runs the lines after it "
                "together; check the quotes on that line.", "line-too-long")
    if "unterminated quote" in text:
        return (f"{where} has a double quote that is never closed; close it, or double a quote "
                "that belongs to the value (\"\").", "unterminated-quote")
    return f"{where} cannot be read as CSV ({detail(text)}). Correct that line.", "unreadable"


def failing_parquet(paths: Sequence[str]) -> str | None:
    """The first file whose Parquet metadata cannot be read (when DuckDB did not say)."""
    con = duckdb.connect(":memory:")
    try:
        for path in paths:
            try:
                con.execute("SELECT count(*) FROM parquet_metadata(?)", [path]).fetchall()
            except duckdb.Error:
                return path
    finally:
        con.close()
    return None


def _parquet_problem(path: Path, text: str, key: str) -> str:
    try:
        size = path.stat().st_size
        head = _head(path)
    except OSError as exc:
        return f"the file cannot be opened ({exc.strerror}). Check its permissions."
    if size == 0:
        return (f"the file is empty (0 bytes), so it holds no Parquet data. Export the table "
                f"again, or point {key} at the right file.")
    if not head.startswith(b"PAR1"):
        other = _other_format(head)
        if other == "CSV text":
            start = _decoded(head[:60], "utf-8").split("\n")[0]
            return (f"the file is CSV text, not Parquet (it starts {start!r}). Rename it to "
                    f".csv and change {key} to match, or convert it to Parquet.")
        return (f"the file is {other or 'not a Parquet file'} (a Parquet file starts with the "
                f"bytes PAR1). {_fix_for(other, key)}")
    with path.open("rb") as handle:
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if tail != b"PAR1":
        return ("the file is cut short: it starts like a Parquet file, but its end (the footer, "
                "which ends in PAR1) is missing. Copy or export it again in full.")
    return f"the file is a damaged Parquet file ({detail(text)}). Export it again."


def database_error(exc: duckdb.Error, path: Path) -> DataError:
    """The DataError for a DuckDB database (data.database) that cannot be opened or read."""
    shown, text = display_path(path), str(exc)
    try:
        size = path.stat().st_size
        head = _head(path)
    except OSError as err:
        return unreadable(shown, f"the file cannot be opened ({err.strerror}). Check its "
                          "permissions.")
    if size == 0:
        return unreadable(shown, "the file is empty (0 bytes), not a DuckDB database. Point "
                          "data.database at the database file.")
    if head[8:12] != b"DUCK":
        other = _other_format(head)
        what = f"{other}, not a DuckDB database" if other else "not a DuckDB database"
        return unreadable(shown, f"the file is {what}. {_fix_for(other, 'data.database')}")
    if "lock" in text.lower():
        return unreadable(shown, "the database is locked by another program that is writing "
                          "to it. Close that program, or copy the file and point "
                          "data.database at the copy.")
    return unreadable(shown, f"the database is damaged or incomplete ({detail(text)}). Copy it "
                      "again while no program is writing to it.")


def _other_format(head: bytes) -> str | None:
    """What a file whose first bytes these are looks like, when it is a known format."""
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if head[8:12] == b"DUCK":
        return "a DuckDB database"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (an Excel .xlsx workbook is one)"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an Excel workbook"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.lstrip().startswith(("{", "[")):
        return "JSON text"
    if "\x00" not in text and any(d in text.split("\n", 1)[0] for d in DELIMITERS):
        return "CSV text"
    return None


def _fix_for(other: str | None, key: str) -> str:
    if key == "data.database" and other in ("a Parquet file", "CSV text"):
        return ("Name the file in data.manifest or data.exams instead, and remove "
                "data.database.")
    fixes = {
        "a Parquet file": f"Rename it to .parquet and change {key} to match.",
        "a DuckDB database": "Name it in data.database and each table as {table: NAME}.",
        "gzip-compressed data": "Decompress it first (gunzip).",
        "a ZIP archive (an Excel .xlsx workbook is one)": "Export the sheet as CSV.",
        "an Excel workbook": "Export the sheet as CSV.",
        "CSV text": f"Rename it to .csv and change {key} to match.",
    }
    return fixes.get(other or "", f"Check that {key} names the right file.")


def detail(text: str) -> str:
    """DuckDB's message cut to its first sentence-like line, without its SQL echo."""
    first = text.strip().split("\n", 1)[0]
    first = re.sub(r"^[A-Za-z ]*Error: ", "", first)
    first = "".join(ch for ch in first if ch.isprintable())
    return first if len(first) <= 160 else first[:159] + "…"
