"""Rendering only: JSON, Markdown tables, intervals and sparklines. No computation here."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from targeting.render.escape import markdown
from targeting.units import missing, num, pct

if TYPE_CHECKING:
    import polars as pl

SPARK = "▁▂▃▄▅▆▇█"


def interval(row: dict[str, Any]) -> str:
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


def window_line(window: dict[str, Any], baseline: dict[str, Any]) -> str:
    """The line above every scoreboard: what was measured against what."""
    return (f"window {window['since']} .. {window['until']} ({window['days']:,} days) · "
            f"{baseline['shipments']:,} shipments, {baseline['examined']:,} examined, "
            f"{baseline['discrepant']:,} discrepant · baseline hit rate {pct(baseline['hit_rate'], 2)}"
            f" · random-exam hit rate {pct(baseline['random_hit_rate'], 2)}"
            f" ({baseline['random_discrepant']:,}/{baseline['random_examined']:,})")


def to_json(document: dict[str, Any]) -> str:
    """Pure JSON (NaN becomes null) for stdout or a file."""
    return json.dumps(_clean(document), indent=2, default=str)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return None if missing(value) else value


def markdown_table(rows: Sequence[dict[str, Any]], formats: dict[str, Any] | None = None,
                   columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table of dict rows (columns: the first row's keys unless
    given); `formats` maps a column to a render function."""
    formats = formats or {}
    names = list(columns if columns is not None else (rows[0] if rows else {}))
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in rows:
        cells = [formats.get(c, _cell)(row[c]) for c in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return num(value, 3)
    return "–" if value is None else markdown(value)


def scoreboard_markdown(board: pl.DataFrame, window: dict[str, Any], baseline: dict[str, Any]) -> str:
    """The scoreboard as a Markdown document."""
    shown = board.select("id", "kind", "port", "targeted", "examined", "discrepant", "hit_rate",
                         "hit_rate_low", "hit_rate_high", "lift", "lift_within_ports",
                         "unique_discrepant", "max_overlap_id", "max_overlap_jaccard")
    rates = dict.fromkeys(("hit_rate", "hit_rate_low", "hit_rate_high", "max_overlap_jaccard"), pct)
    return (f"# Rule scoreboard\n\n{window_line(window, baseline)}\n\n"
            f"{markdown_table(shown.to_dicts(), rates, shown.columns)}\n")
