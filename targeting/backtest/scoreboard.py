"""Rates from counts: one scoreboard row per rule, every metric of backtest/registry.py."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from targeting.backtest.registry import METRICS, SCOREBOARD_COLUMNS
from targeting.backtest.stats import ratio, wilson
from targeting.backtest.window import Window
from targeting.rules.model import Rule

if TYPE_CHECKING:
    import polars as pl

Baseline = dict[str, Any]


def baseline_from(row: Sequence[int]) -> Baseline:
    """The baseline from (shipments, examined, discrepant, random examined, random discrepant)."""
    shipments, examined, discrepant, r_exam, r_disc = row
    return {"shipments": shipments, "examined": examined, "discrepant": discrepant,
            "hit_rate": ratio(discrepant, examined), "random_examined": r_exam,
            "random_discrepant": r_disc, "random_hit_rate": ratio(r_disc, r_exam)}


def scoreboard_rows(counts: Sequence[dict[str, Any]], rules: Sequence[Rule], base: Baseline,
                   window: Window) -> list[dict[str, Any]]:
    """Derive every rate of docs/metrics.md from the counts; one dict per rule, JSON key order."""
    return [_row(rule, row, base, window) for rule, row in zip(rules, counts)]


def scoreboard(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Scoreboard rows as a DataFrame typed by the registry (text, counts, the rest floats)."""
    import polars as pl  # deferred: `targeting test` needs no DataFrame (see db.fetch_dicts)

    types = {"text": pl.String, "count": pl.Int64}
    schema = {m.name: types.get(m.kind, pl.Float64) for m in METRICS}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


def _row(rule: Rule, c: dict[str, Any], base: Baseline, window: Window) -> dict[str, Any]:
    low, high = wilson(c["discrepant"], c["examined"])
    hit_rate = ratio(c["discrepant"], c["examined"])
    row = {
        "id": rule.id, "kind": rule.kind, "port": rule.port, "status": rule.status,
        "targeted": c["targeted"], "examined": c["examined"], "discrepant": c["discrepant"],
        "hit_rate": hit_rate, "hit_rate_low": low, "hit_rate_high": high,
        "lift": ratio(hit_rate, base["hit_rate"]),
        "lift_within_ports": ratio(hit_rate, ratio(c["expected_discrepant"], c["examined"])),
        "random_examined": c["random_examined"], "random_discrepant": c["random_discrepant"],
        "random_hit_rate": ratio(c["random_discrepant"], c["random_examined"]),
        "self_selected_share": ratio(c["self_selected"], c["examined"]),
        "exam_rate": ratio(c["examined"], c["targeted"]),
        "flags_per_day": ratio(c["targeted"], window.days),
        "ports_targeted": c["ports_targeted"], "ports_with_hits": c["ports_with_hits"],
        "months_with_hits": c["months_with_hits"], "unique_discrepant": c["unique_discrepant"],
        "max_overlap_id": c["max_overlap_id"], "max_overlap_jaccard": c["max_overlap_jaccard"],
        "seizures": c["seizures"], "abandonments": c["abandonments"],
        "refused_entries": c["refused_entries"], "other_outcomes": c["other_outcomes"],
        "msrp_total": float(c["msrp_total"] or 0), "referrals": c["referrals"],
    }
    assert list(row) == SCOREBOARD_COLUMNS, "the row and the registry list different metrics"
    return row
