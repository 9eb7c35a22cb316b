"""Rates from counts: one scoreboard row per rule, every metric of backtest/registry.py."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from targeting.backtest.estimate import estimate
from targeting.backtest.registry import METRICS, SCOREBOARD_COLUMNS
from targeting.backtest.stats import ratio, wilson
from targeting.backtest.window import Window
from targeting.rules.model import Rule

if TYPE_CHECKING:
    import polars as pl

Baseline = dict[str, Any]


def baseline_from(sums: dict[str, Any], choice: str = "auto") -> Baseline:
    """The baseline (observed hit rate of every examined shipment in the window) and the
    population's estimated rate, from backtest/metric_sql.baseline's counts and weight sums."""
    examined, discrepant = sums["examined"], sums["discrepant"]
    r_exam, r_disc = sums["random_examined"], sums["random_discrepant"]
    population = estimate({**sums, "targeted": sums["shipments"]}, choice)
    return {"shipments": sums["shipments"], "examined": examined, "discrepant": discrepant,
            "hit_rate": ratio(discrepant, examined), "random_examined": r_exam,
            "random_discrepant": r_disc, "random_hit_rate": ratio(r_disc, r_exam),
            **population.as_row()}


def scoreboard_rows(counts: Sequence[dict[str, Any]], rules: Sequence[Rule], base: Baseline,
                   window: Window, choice: str = "auto") -> list[dict[str, Any]]:
    """Derive every rate of docs/metrics.md from the counts; one dict per rule, JSON key order.
    `choice` is the estimate to make (promotion.estimate)."""
    return [_row(rule, row, base, window, choice) for rule, row in zip(rules, counts)]


def scoreboard(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Scoreboard rows as a DataFrame typed by the registry (text, counts, the rest floats)."""
    import polars as pl  # deferred: `targeting test` needs no DataFrame (see db.fetch_dicts)

    types = {"text": pl.String, "count": pl.Int64}
    schema = {m.name: types.get(m.kind, pl.Float64) for m in METRICS}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


def _row(rule: Rule, c: dict[str, Any], base: Baseline, window: Window,
         choice: str) -> dict[str, Any]:
    low, high = wilson(c["discrepant"], c["examined"])
    hit_rate = ratio(c["discrepant"], c["examined"])
    random_low, random_high = wilson(c["random_discrepant"], c["random_examined"])
    est = estimate(c, choice)
    row = {
        "id": rule.id, "kind": rule.kind, "port": rule.port, "status": rule.status,
        "targeted": c["targeted"], "examined": c["examined"], "discrepant": c["discrepant"],
        "hit_rate": hit_rate, "hit_rate_low": low, "hit_rate_high": high,
        "lift": ratio(hit_rate, base["hit_rate"]),
        "lift_within_ports": ratio(hit_rate, ratio(c["expected_discrepant"],
                                                   c["expected_examined"])),
        "random_examined": c["random_examined"], "random_discrepant": c["random_discrepant"],
        "random_hit_rate": ratio(c["random_discrepant"], c["random_examined"]),
        "self_selected_share": ratio(c["own_examined"], c["examined"]),
        "exam_rate": ratio(c["examined"], c["targeted"]),
        "flags_per_day": ratio(c["targeted"], window.days),
        "ports_targeted": c["ports_targeted"], "ports_with_hits": c["ports_with_hits"],
        "months_with_hits": c["months_with_hits"], "unique_discrepant": c["unique_discrepant"],
        "max_overlap_id": c["max_overlap_id"], "max_overlap_jaccard": c["max_overlap_jaccard"],
        "seizures": c["seizures"], "abandonments": c["abandonments"],
        "refused_entries": c["refused_entries"], "other_outcomes": c["other_outcomes"],
        "msrp_total": float(c["msrp_total"] or 0), "referrals": c["referrals"],
        "own_examined": c["own_examined"], "own_discrepant": c["own_discrepant"],
        "other_examined": c["examined"] - c["own_examined"],
        "other_discrepant": c["discrepant"] - c["own_discrepant"],
        "random_hit_rate_low": random_low, "random_hit_rate_high": random_high,
        **est.as_row(),
        "est_lift": ratio(est.rate, base["est_hit_rate"]),
        "top_selector_id": c.get("top_selector_id"),
        "top_selector_share": ratio(c.get("top_selector_n"), c["examined"]),
        "referrals_accepted": c["referrals_accepted"],
        "referrals_with_outcome": c["referrals_with_outcome"],
    }
    assert list(row) == SCOREBOARD_COLUMNS, "the row and the registry list different metrics"
    return row
