"""Rendering for the terminal: rich tables and the lines above them. No computation here."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from targeting.render.escape import terminal
from targeting.units import num, pct

if TYPE_CHECKING:
    import polars as pl


def console() -> Console:
    """The terminal console; rich honours NO_COLOR and the terminal's width. No emoji codes:
    a title such as ':warning:' is shown as written (markup is escaped per cell, escape.py)."""
    return Console(highlight=False, emoji=False)


# --- scoreboard -------------------------------------------------------------------------------
# (header, render, minimum terminal width at which the column is shown)
_BOARD_COLUMNS: list[tuple[str, Any, int]] = [
    ("id", lambda r: terminal(r["id"]), 0),
    ("kind", lambda r: r["kind"], 0),
    ("port", lambda r: terminal(r["port"] or ""), 100),
    ("targeted", lambda r: num(r["targeted"]), 0),
    ("exam'd", lambda r: num(r["examined"]), 0),
    ("disc.", lambda r: num(r["discrepant"]), 0),
    ("hit rate", lambda r: pct(r["hit_rate"]), 0),
    ("95% CI", lambda r: f"{pct(r['hit_rate_low'])}–{pct(r['hit_rate_high'])}"
     if r["hit_rate"] is not None else "–", 120),
    ("lift", lambda r: num(r["lift"], 1), 0),
    ("lift@ports", lambda r: num(r["lift_within_ports"], 1), 110),
    ("random", lambda r: f"{r['random_discrepant']}/{r['random_examined']}", 130),
    ("flags/day", lambda r: num(r["flags_per_day"], 1), 140),
    ("ports", lambda r: f"{r['ports_with_hits']}/{r['ports_targeted']}", 150),
    ("unique", lambda r: num(r["unique_discrepant"]), 160),
    ("overlap", lambda r: f"{terminal(r['max_overlap_id'])} {pct(r['max_overlap_jaccard'], 0)}"
     if r["max_overlap_id"] else "–", 170),
]


def scoreboard_table(board: pl.DataFrame, width: int) -> Table:
    """The scoreboard as a rich table using as many columns as `width` allows."""
    columns = [c for c in _BOARD_COLUMNS if c[2] <= width]
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header, _, _ in columns:
        table.add_column(header, justify="left" if header in ("id", "kind", "port", "overlap") else "right",
                         no_wrap=True)
    for row in board.iter_rows(named=True):
        table.add_row(*[render(row) for _, render, _ in columns])
    return table


def rows_table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str, Any]],
               title: str | None = None) -> Table:
    """A small rich table: columns are (header, key, render); every cell is shown as text,
    never read as markup (groups and ports come from the data)."""
    table = Table(box=None, pad_edge=False, header_style="bold", title=title, title_justify="left")
    for header, _, _ in columns:
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*[terminal(render(row[key])) for _, key, render in columns])
    return table
