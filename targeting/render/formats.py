"""Rendering only: tables for the terminal, JSON, CSV and Markdown. No computation here."""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
from rich.table import Table

SPARK = "▁▂▃▄▅▆▇█"


def pct(value: float | None, digits: int = 1) -> str:
    """0.1234 -> '12.3%'; None -> '–'."""
    return "–" if value is None or _nan(value) else f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    """Thousands separators for integers, fixed digits for floats, '–' for missing."""
    if value is None or _nan(value):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def interval(row: dict) -> str:
    """'12.3% [9.8–15.1%]' from hit_rate and its Wilson bounds."""
    if row.get("hit_rate") is None:
        return "–"
    return f"{pct(row['hit_rate'])} [{pct(row['hit_rate_low'], 1)[:-1]}–{pct(row['hit_rate_high'])}]"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled to the largest; missing values as a space."""
    present = [v for v in values if v is not None]
    top = max(present, default=0) or 1
    return "".join(" " if v is None else SPARK[min(int(v / top * (len(SPARK) - 1) + 0.5), 7)]
                   for v in values)


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# --- scoreboard -------------------------------------------------------------------------------
# (header, render, minimum terminal width at which the column is shown)
_BOARD_COLUMNS: list[tuple[str, Any, int]] = [
    ("id", lambda r: r["id"], 0),
    ("kind", lambda r: r["kind"], 0),
    ("port", lambda r: r["port"] or "", 100),
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
    ("overlap", lambda r: f"{r['max_overlap_id']} {pct(r['max_overlap_jaccard'], 0)}"
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


def window_line(window: dict, baseline: dict) -> str:
    """The line above every scoreboard: what was measured against what."""
    return (f"window {window['since']} .. {window['until']} ({window['days']:,} days) · "
            f"{baseline['shipments']:,} shipments, {baseline['examined']:,} examined, "
            f"{baseline['discrepant']:,} discrepant · baseline hit rate {pct(baseline['hit_rate'], 2)}"
            f" · random-exam hit rate {pct(baseline['random_hit_rate'], 2)}"
            f" ({baseline['random_discrepant']:,}/{baseline['random_examined']:,})")


def to_json(document: dict) -> str:
    """Pure JSON (NaN becomes null) for stdout or a file."""
    return json.dumps(_clean(document), indent=2, default=str)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return None if _nan(value) else value


def markdown_table(frame: pl.DataFrame, formats: dict[str, Any] | None = None) -> str:
    """A GitHub-flavoured Markdown table; `formats` maps a column to a render function."""
    formats = formats or {}
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for row in frame.iter_rows(named=True):
        cells = [formats.get(c, _cell)(row[c]) for c in frame.columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return num(value, 3)
    return "–" if value is None else str(value).replace("|", "\\|")


def scoreboard_markdown(board: pl.DataFrame, window: dict, baseline: dict) -> str:
    """The scoreboard as a Markdown document."""
    shown = board.select("id", "kind", "port", "targeted", "examined", "discrepant", "hit_rate",
                         "hit_rate_low", "hit_rate_high", "lift", "lift_within_ports",
                         "unique_discrepant", "max_overlap_id", "max_overlap_jaccard")
    rates = {c: pct for c in ("hit_rate", "hit_rate_low", "hit_rate_high", "max_overlap_jaccard")}
    return (f"# Rule scoreboard\n\n{window_line(window, baseline)}\n\n"
            f"{markdown_table(shown, rates)}\n")


def rows_table(rows: Iterable[dict], columns: Sequence[tuple[str, str, Any]], title: str | None = None) -> Table:
    """A small rich table: columns are (header, key, render)."""
    table = Table(box=None, pad_edge=False, header_style="bold", title=title, title_justify="left")
    for header, _, _ in columns:
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*[render(row[key]) for _, key, render in columns])
    return table
