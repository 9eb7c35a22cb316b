"""CSV as a spreadsheet opens it: text that a spreadsheet would run as a formula is written as
text.

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets ("CSV injection"): a rule title or a shipment description such as
`=HYPERLINK("http://...")` would run when the NTC opens `evaluate --format csv` or an export.
Such text cells get a leading apostrophe, which spreadsheets show as text (OWASP's advice).
Numbers, dates and booleans are written as they are; JSON and Parquet carry every value
unchanged, for programs.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text cell that would start a formula prefixed by an apostrophe."""
    import polars as pl

    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name in text)


def csv_text(frame: pl.DataFrame) -> str:
    return spreadsheet_safe(frame).write_csv()


def write_csv(frame: pl.DataFrame, path: Path | str) -> None:
    spreadsheet_safe(frame).write_csv(path)
