"""Rendering for the terminal: rich tables and the lines above them. No computation here."""
from __future__ import annotations

import io
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


def as_text(renderables: Iterable[Any], width: int = 100) -> str:
    """What the terminal would show, as plain text (no colour), for a file."""
    buffer = io.StringIO()
    out = Console(file=buffer, width=width, highlight=False, emoji=False, color_system=None)
    for renderable in renderables:
        out.print(renderable)
    return buffer.getvalue()


# --- scoreboard -------------------------------------------------------------------------------
# (key for --columns, header, render, minimum terminal width at which the column is shown). At
# 80 columns: id, targeted, examined, the estimate with its interval and its lift; wider
# terminals add the observed figures and the context.
_BOARD_COLUMNS: list[tuple[str, str, Any, int]] = [
    ("id", "id", lambda r: terminal(r["id"]), 0),
    ("targeted", "targeted", lambda r: num(r["targeted"]), 0),
    ("examined", "exam'd", lambda r: num(r["examined"]), 0),
    ("estimate", "estimate [95% CI]", lambda r, floor=0.0: estimate(r, floor), 0),
    ("lift", "est. lift", lambda r, floor=0.0: estimate_lift(r, floor), 0),
    ("shrunk", "shrunk", lambda r: pct(r.get("shrunk_hit_rate")), 0),
    ("kind", "kind", lambda r: r["kind"], 90),
    ("observed", "observed", lambda r: pct(r["hit_rate"]), 100),
    ("method", "method", lambda r: r["est_method"], 110),
    ("port", "port", lambda r: terminal(r["port"] or ""), 120),
    ("discrepant", "disc.", lambda r: num(r["discrepant"]), 125),
    ("own", "own exams", lambda r: f"{pct(r['self_selected_share'], 0)}", 135),
    ("lift_at_ports", "lift@ports", lambda r: num(r["lift_within_ports"], 1), 145),
    ("flags", "flags/day", lambda r: num(r["flags_per_day"], 1), 155),
    ("ports", "ports", lambda r: f"{r['ports_with_hits']}/{r['ports_targeted']}", 165),
    ("unique", "unique", lambda r: num(r["unique_discrepant"]), 175),
    ("overlap", "overlap", lambda r: f"{terminal(r['max_overlap_id'])} {pct(r['max_overlap_jaccard'], 0)}"
     if r["max_overlap_id"] else "–", 185),
]
BOARD_KEYS = tuple(c[0] for c in _BOARD_COLUMNS)
_FLOORED = ("estimate", "lift")  # 'insufficient' below the evidence floor
_LEFT = ("id", "kind", "port", "overlap", "method", "estimate")


def scoreboard_table(board: pl.DataFrame, width: int, min_examined: float = 0.0,
                     chosen: Sequence[str] | None = None) -> tuple[Table, list[str]]:
    """The scoreboard as a rich table using as many columns as `width` allows (or the `chosen`
    keys of BOARD_KEYS, in that order), and the keys of the columns left out (to say so under
    the table). An estimate on fewer effective exams than `min_examined` (the policy's evidence
    floor) is shown as 'insufficient'."""
    by_key = {c[0]: c for c in _BOARD_COLUMNS}
    columns = ([by_key[k] for k in chosen] if chosen
               else [c for c in _BOARD_COLUMNS if c[3] <= width])
    hidden = [c[0] for c in _BOARD_COLUMNS if c not in columns]
    table = Table(box=None, pad_edge=False, header_style="bold")
    for key, header, _, _ in columns:
        table.add_column(header, justify="left" if key in _LEFT else "right", no_wrap=True)
    for row in board.iter_rows(named=True):
        cells = [render(row, min_examined) if key in _FLOORED else render(row)
                 for key, _, render, _ in columns]
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
