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


def estimate(row: dict[str, Any], min_examined: float = 0.0, prefix: str = "est") -> str:
    """The estimate with its interval, '12.3% [9.8–15.1%]'; 'insufficient' when its effective
    sample is below the policy's evidence floor; '–' when there is none."""
    rate = row.get(f"{prefix}_hit_rate")
    if rate is None:
        return "–"
    if not sufficient(row, min_examined, prefix):
        return "insufficient"
    low, high = row[f"{prefix}_hit_rate_low"], row[f"{prefix}_hit_rate_high"]
    return f"{pct(rate)} [{pct(low)[:-1]}–{pct(high)}]"


def sufficient(row: dict[str, Any], min_examined: float, prefix: str = "est") -> bool:
    """Whether the estimate's effective sample reaches the policy's evidence floor."""
    return bool((row.get(f"{prefix}_examined") or 0) >= min_examined)


def estimate_lift(row: dict[str, Any], min_examined: float = 0.0, digits: int = 1) -> str:
    """The estimated lift, or 'insufficient' as for the estimate it divides."""
    return num(row.get("est_lift"), digits) if sufficient(row, min_examined) else "insufficient"


def estimate_basis(row: dict[str, Any], prefix: str = "est") -> str:
    """How the estimate was made, in a few words: 'weighted, effective n 340'."""
    method = row.get(f"{prefix}_method")
    n = row.get(f"{prefix}_examined") or 0
    words = {"ipw": f"weighted by selection probability, effective n {n:,.0f}",
             "random": f"from {n:,.0f} random exams", "census": f"every match examined ({n:,.0f})",
             "observed": f"observed, {n:,.0f} exams", "none": "no estimate"}
    return words.get(str(method), str(method))


def evidence_from(since: Any, source: str) -> str:
    """'evidence from 2025-02-01 (git)', or why a query has no evidence yet (docs/policy.md,
    "Versioned evidence")."""
    if source == "unregistered":
        return ("no evidence yet: its current predicate is unregistered (not committed, or not "
                "registered, in the evidence source)")
    return f"evidence from {since} ({source})"


def disagreement(row: dict[str, Any]) -> str:
    """A sentence when the observed hit rate lies outside the estimate's interval, saying why
    it can: who chose the exams. '' when they agree or there is nothing to compare."""
    observed, low, high = row.get("hit_rate"), row.get("est_hit_rate_low"), row.get("est_hit_rate_high")
    if row.get("est_method") not in ("ipw", "random") or observed is None or low is None \
            or high is None:
        return ""
    if low <= observed <= high:
        return ""
    side = "above" if observed > high else "below"
    top, share = row.get("top_selector_id"), row.get("top_selector_share")
    if top and share is not None and share >= 0.5:
        who = ("its exams were mostly its own selections" if top == row.get("id")
               else f"its exams were mostly chosen by {top}")
        why = f"{who} ({pct(share, 0)})"
    elif top:
        why = f"its exams were chosen by several selectors, most by {top} ({pct(share, 0)})"
    else:
        why = "its exams were not a random sample of what it matches"
    return (f"The observed hit rate {pct(observed)} is {side} the estimate's interval: {why}, "
            "so the observed rate says more about who chose the exams than about the rule.")


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled to the largest; missing values as a space."""
    present = [v for v in values if v is not None]
    top = max(present, default=0) or 1
    return "".join(" " if v is None else SPARK[min(int(v / top * (len(SPARK) - 1) + 0.5), 7)]
                   for v in values)


def window_line(window: dict[str, Any], baseline: dict[str, Any]) -> str:
    """The line above every scoreboard: what was measured against what."""
    population = baseline.get("est_hit_rate")
    rate = (f"violation rate of all shipments {pct(population, 2)} "
            f"[{pct(baseline['est_hit_rate_low'], 2)}–{pct(baseline['est_hit_rate_high'], 2)}] "
            f"({estimate_basis(baseline)})" if population is not None
            else "no estimate of the violation rate of all shipments")
    return (f"window {window['since']} .. {window['until']} ({window['days']:,} days) · "
            f"{baseline['shipments']:,} shipments, {baseline['examined']:,} examined, "
            f"{baseline['discrepant']:,} discrepant · {rate} · observed hit rate of all exams "
            f"{pct(baseline['hit_rate'], 2)}")


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
