"""Rendering for the terminal: rich tables and the lines above them. No computation here."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from targeting.render.escape import terminal
from targeting.render.formats import estimate, estimate_lift
from targeting.units import num, pct

if TYPE_CHECKING:
    import polars as pl


def console() -> Console:
    """The terminal console; rich honours NO_COLOR and the terminal's width. No emoji codes:
    a title such as ':warning:' is shown as written (markup is escaped per cell, escape.py)."""
    return Console(highlight=False, emoji=False)


# --- scoreboard -------------------------------------------------------------------------------
# (header, render, minimum terminal width at which the column is shown). At 80 columns: id,
# targeted, examined, the estimate with its interval and its lift; wider terminals add the
# observed figures and the context.
_BOARD_COLUMNS: list[tuple[str, Any, int]] = [
    ("id", lambda r: terminal(r["id"]), 0),
    ("targeted", lambda r: num(r["targeted"]), 0),
    ("exam'd", lambda r: num(r["examined"]), 0),
    ("estimate [95% CI]", lambda r, floor=0.0: estimate(r, floor), 0),
    ("est. lift", lambda r, floor=0.0: estimate_lift(r, floor), 0),
    ("kind", lambda r: r["kind"], 90),
    ("observed", lambda r: pct(r["hit_rate"]), 100),
    ("method", lambda r: r["est_method"], 110),
    ("port", lambda r: terminal(r["port"] or ""), 120),
    ("disc.", lambda r: num(r["discrepant"]), 125),
    ("own exams", lambda r: f"{pct(r['self_selected_share'], 0)}", 135),
    ("lift@ports", lambda r: num(r["lift_within_ports"], 1), 145),
    ("flags/day", lambda r: num(r["flags_per_day"], 1), 155),
    ("ports", lambda r: f"{r['ports_with_hits']}/{r['ports_targeted']}", 165),
    ("unique", lambda r: num(r["unique_discrepant"]), 175),
    ("overlap", lambda r: f"{terminal(r['max_overlap_id'])} {pct(r['max_overlap_jaccard'], 0)}"
     if r["max_overlap_id"] else "–", 185),
]
_FLOORED = ("estimate [95% CI]", "est. lift")  # 'insufficient' below the evidence floor
_LEFT = ("id", "kind", "port", "overlap", "method", "estimate [95% CI]")


def scoreboard_table(board: pl.DataFrame, width: int,
                     min_examined: float = 0.0) -> tuple[Table, list[str]]:
    """The scoreboard as a rich table using as many columns as `width` allows, and the headers
    of the columns left out (to say so under the table). An estimate on fewer effective exams
    than `min_examined` (the policy's evidence floor) is shown as 'insufficient'."""
    columns = [c for c in _BOARD_COLUMNS if c[2] <= width]
    hidden = [c[0] for c in _BOARD_COLUMNS if c[2] > width]
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header, _, _ in columns:
        table.add_column(header, justify="left" if header in _LEFT else "right", no_wrap=True)
    for row in board.iter_rows(named=True):
        cells = [render(row, min_examined) if header in _FLOORED else render(row)
                 for header, render, _ in columns]
        table.add_row(*cells)
    return table, hidden


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
