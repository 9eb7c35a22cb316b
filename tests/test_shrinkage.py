"""Empirical-Bayes shrinkage (backtest/shrinkage.py): the prior by hand on five rules, its
recovery of a known beta prior from simulated rules, the edge cases, and evaluate's ranking."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import targeting
from targeting.backtest.shrinkage import MIN_RULES, Prior, fit_prior

ROOT = Path(__file__).resolve().parents[1]


def test_prior_and_shrunk_rates_by_hand():
    # Five rules, 20 exams each, at 5%, 10%, 15%, 20% and 50%.
    rates, sizes = [0.05, 0.10, 0.15, 0.20, 0.50], [20.0] * 5
    prior = fit_prior(rates, sizes)
    assert prior is not None and prior.rules == 5
    # Mean 0.2; S = 20 (0.0225 + 0.01 + 0.0025 + 0 + 0.09) = 2.5; p(1-p) = 0.16;
    # rho = (2.5/0.16 - 4) / (100 - 5·400/100) = 11.625/80 = 0.1453125; k = 1/rho - 1.
    assert prior.mean == pytest.approx(0.2)
    k = 1 / 0.1453125 - 1
    assert prior.concentration == pytest.approx(k)
    # The 50% rule on 20 exams: (0.5·20 + 0.2·k) / (20 + k) = 0.4318.
    assert prior.shrink(0.5, 20) == pytest.approx((10 + 0.2 * k) / (20 + k))
    assert prior.shrink(0.5, 20) == pytest.approx(0.4318, abs=1e-4)
    # More evidence, less pull: the same rate on 2,000 exams barely moves.
    assert prior.shrink(0.5, 2000) == pytest.approx(0.5, abs=2e-3)


def test_the_prior_recovers_a_known_beta_from_simulated_rules():
    """An independent check: rules whose true rates are drawn from Beta(3, 27) (mean 0.1,
    concentration 30), each examined 20-200 times; the fit must find the beta again."""
    rng = np.random.default_rng(7)
    truth = rng.beta(3, 27, size=4000)
    sizes = rng.integers(20, 200, size=truth.size)
    found = rng.binomial(sizes, truth)
    prior = fit_prior(list(found / sizes), [float(n) for n in sizes])
    assert prior is not None
    assert prior.mean == pytest.approx(0.1, abs=0.005)
    assert prior.concentration == pytest.approx(30, rel=0.15)
    # And shrinking lowers the squared error against the truth, which is the point of it.
    shrunk = np.array([prior.shrink(f / n, float(n)) for f, n in zip(found, sizes)])
    assert np.mean((shrunk - truth) ** 2) < 0.8 * np.mean((found / sizes - truth) ** 2)


def test_edges():
    assert fit_prior([0.1] * (MIN_RULES - 1), [50.0] * (MIN_RULES - 1)) is None
    # No spread beyond chance: every rule is the mean.
    same = fit_prior([0.1] * 6, [50.0] * 6)
    assert same is not None and math.isinf(same.concentration) and same.shrink(0.1, 50) == 0.1
    # Rules without an estimate or with an infinite (census-exact) sample are left out of the
    # fit; an exact rate is not shrunk.
    assert fit_prior([None, 0.1, 0.2, 0.3, 0.4, 0.5], [10.0, None, 10.0, 10.0, 10.0, 10.0]) is None
    assert Prior(0.2, 10.0, 5).shrink(0.9, math.inf) == 0.9
    assert Prior(0.2, 10.0, 5).shrink(None, 10) is None and Prior(0.2, 10.0, 5).shrink(0.3, 0) is None
    # Nothing found anywhere: the mean is 0 and so is every shrunk rate.
    zero = fit_prior([0.0] * 5, [30.0] * 5)
    assert zero is not None and zero.shrink(0.0, 30) == 0.0


def test_evaluate_ranks_by_shrunk_lift_and_shows_the_raw_estimate_beside_it():
    board = targeting.evaluate(config=ROOT / "targeting.yaml")
    assert {"shrunk_hit_rate", "shrunk_lift", "est_hit_rate", "est_lift"} <= set(board.columns)
    ranked = board.filter(board["shrunk_lift"].is_not_null())["shrunk_lift"].to_list()
    assert ranked == sorted(ranked, reverse=True) and len(ranked) >= 10
    # A thin estimate is pulled further towards the mean than a well-evidenced one.
    rows = [r for r in board.to_dicts() if r["shrunk_hit_rate"] is not None and r["est_hit_rate"]]
    thin = min(rows, key=lambda r: r["est_n"])
    thick = max(rows, key=lambda r: r["est_n"])
    pull = [abs(r["shrunk_hit_rate"] - r["est_hit_rate"]) / r["est_hit_rate"] for r in (thin, thick)]
    assert pull[0] > pull[1]


def test_the_review_stores_a_shrunk_and_a_predicted_rate_for_every_query():
    review = targeting.candidates(config=ROOT / "targeting.yaml")
    verdicts = [v for v in review.verdicts if v.metrics["est_hit_rate"] is not None]
    prior = fit_prior([v.metrics["est_hit_rate"] for v in verdicts],
                      [v.metrics["est_n"] for v in verdicts])
    assert prior is not None
    for v in verdicts:
        raw, shrunk = v.metrics["est_hit_rate"], v.metrics["shrunk_hit_rate"]
        # Between its own estimate and the queries' mean, never beyond either.
        assert min(raw, prior.mean) - 1e-12 <= shrunk <= max(raw, prior.mean) + 1e-12
        if v.scope == "port":
            assert v.metrics["predicted_hit_rate"] == shrunk
    # The leaders are pulled down: a query that ranks high on a lucky draw will deliver less.
    leaders = [v for v in verdicts if v.promote and v.metrics["est_hit_rate"] > prior.mean]
    assert leaders and all(v.metrics["shrunk_hit_rate"] < v.metrics["est_hit_rate"] for v in leaders)
