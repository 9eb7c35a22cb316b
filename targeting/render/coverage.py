"""Coverage of discrepant shipments: terminal tables and Markdown."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from targeting.render.formats import markdown_table
from targeting.render.terminal import rows_table
from targeting.units import num, pct

if TYPE_CHECKING:
    import polars as pl

_TITLES = {"all": "All discrepant shipments", "selection_method": "By recorded selection method",
           "priority": "By priority tag (matched by an active rule with the tag)",
           "outcome": "By outcome"}


_COLUMNS = [("group", "group", str), ("discrepant", "discrepant", num),
            ("UDR", "udr_share", pct), ("query only", "query_only_share", pct),
            ("no rule", "none_share", pct)]


def print_coverage(table: pl.DataFrame, out: Console) -> None:
    """One table per dimension."""
    for dimension, title in _TITLES.items():
        rows = table.filter(table["dimension"] == dimension).to_dicts()
        if rows:
            out.print(rows_table(rows, _COLUMNS, title=title))
            out.print()


def coverage_markdown(table: pl.DataFrame) -> str:
    """The coverage tables as a Markdown document."""
    parts = ["# Coverage of discrepant shipments\n"]
    for dimension, title in _TITLES.items():
        part = table.filter(table["dimension"] == dimension).drop("dimension")
        if part.height:
            shares = dict.fromkeys(("udr_share", "query_only_share", "none_share"), pct)
            parts.append(f"## {title}\n\n{markdown_table(part.to_dicts(), shares, part.columns)}\n")
    return "\n".join(parts)
