"""Every estimate field on tests/data/ipw, asserted against numbers worked out by hand.

The data (January 2025, 19 shipments, 12 examined, every exam with its logged selection
probability p, so each examined shipment weighs w = 1/p):

    shipment  port  desc     exam (selector, p)               result      weight
    a1        1111  HANDBAG  query Q-A, 0.5                   discrepant  2
    a2        1111  handbag  query Q-A, 0.5                   discrepant  2
    a3        2222  bag      random, 0.25                     clean       4
    a4-a5     1111  bag      –
    a6        2222  bag      –
    b1        2222  WATCH    udr U-B, 0.2; then obs., 0.1     discrepant  5 (its first exam's p)
    b2        2222  watch    observation, 0.8                 clean       1.25
    b3        2222  watch    random, 0.8                      clean       1.25
    b4-b5     2222  watch    –
    b6        1111  watch    –
    c1        2222  shoe     random, 0.25                     discrepant  4
    c2        1111  shoe     random, 0.25                     discrepant  4
    c3-c6     1111  shoe     random, 0.25                     clean       4 each
    c7        1111  shoe     –

Q-A (bag) and U-B (watch) each match six shipments and examine three. Observed, Q-A finds 2/3
and U-B 1/3; weighted, Q-A's two finds were likely picks (w 2 each) and its clean exam a
long shot (w 4), while U-B's one find was a long shot (w 5): the estimate reverses the order.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from targeting.backtest.estimate import wilson_at
from targeting.backtest.run import backtest, project_window
from targeting.backtest.stats import score_p_value
from targeting.backtest.window import Window
from targeting.decide.coverage import coverage_of
from targeting.project import open_project

IPW = Path(__file__).parent / "data" / "ipw" / "targeting.yaml"
Z = 1.959963984540054
JANUARY = Window(dt.date(2025, 1, 1), dt.date(2025, 1, 31))


def wilson_by_hand(rate: float, n: float) -> tuple[float, float]:
    """The Wilson score interval written out, to check estimate.wilson_at against."""
    centre = (rate + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(rate * (1 - rate) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def run(estimate: str | None = None):
    project = open_project(IPW)
    rules = project.all_rules
    result = backtest(project, rules, JANUARY,
                      [r for r in rules if r.kind == "udr"], estimate=estimate)
    return result, {row["id"]: row for row in result.scoreboard_rows()}


def test_population_rate_is_weighted_over_every_exam():
    result, _ = run()
    base = result.baseline
    # Σw = 2+2+4+5+1.25+1.25+6·4 = 39.5; Σw over discrepant (a1, a2, b1, c1, c2) = 17
    assert base["est_hit_rate"] == pytest.approx(17 / 39.5)
    assert base["est_method"] == "ipw"
    # Kish: (Σw)² / Σw² = 39.5² / (4+4+16+25+1.5625+1.5625+6·16) = 1560.25 / 148.125
    assert base["est_examined"] == pytest.approx(1560.25 / 148.125)
    # variance (with replacement): Σw² over discrepant = 4+4+25+16+16 = 65, over clean
    # 16+1.5625+1.5625+4·16 = 83.125; ((1−r)²·65 + r²·83.125) / 39.5², at n = r(1−r)/var
    r = 17 / 39.5
    variance = ((1 - r) ** 2 * 65 + r ** 2 * 83.125) / 39.5 ** 2
    low, high = wilson_by_hand(r, r * (1 - r) / variance)
    assert (base["est_hit_rate_low"], base["est_hit_rate_high"]) == (
        pytest.approx(low), pytest.approx(high))
    assert r * (1 - r) / variance == pytest.approx(10.4831, abs=1e-4)
    # the observed figures beside it: 5 of 12 exams, 2 of 8 random exams
    assert (base["hit_rate"], base["random_hit_rate"]) == (pytest.approx(5 / 12), 0.25)


def test_query_estimate_by_hand():
    _, rows = run()
    q = rows["Q-A"]
    assert (q["targeted"], q["examined"], q["discrepant"]) == (6, 3, 2)
    assert q["hit_rate"] == pytest.approx(2 / 3)
    # who chose: a1, a2 by Q-A itself, a3 by a random exam
    assert (q["own_examined"], q["own_discrepant"], q["other_examined"], q["other_discrepant"]) \
        == (2, 2, 1, 0)
    assert (q["top_selector_id"], q["top_selector_share"]) == ("Q-A", pytest.approx(2 / 3))
    assert (q["random_examined"], q["random_discrepant"], q["random_hit_rate"]) == (1, 0, 0.0)
    # Wilson(0, 1): [0, z²/(1+z²)]
    assert q["random_hit_rate_low"] == 0.0
    assert q["random_hit_rate_high"] == pytest.approx(Z * Z / (1 + Z * Z))
    # Hajek: (2+2) / (2+2+4) = 0.5
    assert q["est_hit_rate"] == pytest.approx(0.5)
    # variance ((½)²·(4+4) + (½)²·16) / 8² = 6/64, so n = ¼ / (6/64) = 8/3
    assert (q["est_hit_rate_low"], q["est_hit_rate_high"]) == tuple(
        pytest.approx(v) for v in wilson_by_hand(0.5, 8 / 3))
    # Kish 8² / (4+4+16)
    assert (q["est_method"], q["est_examined"], q["est_discrepant"]) == (
        "ipw", pytest.approx(64 / 24), 2)
    assert q["est_lift"] == pytest.approx(0.5 / (17 / 39.5))
    # within ports, its own exams left out: 1111 has 7 exams, 3 discrepant, less a1 and a2 (its
    # own) = 1/5; 2222 has 5 exams, 2 discrepant = 2/5. Expected 2·⅕ + 1·⅖ = 0.8 of 3 examined
    assert q["lift_within_ports"] == pytest.approx((2 / 3) / (0.8 / 3))
    # a1 referred, accepted, with an outcome; a2 not referred
    assert (q["referrals"], q["referrals_accepted"], q["referrals_with_outcome"]) == (1, 1, 1)


def test_udr_estimate_by_hand_uses_the_first_exams_probability():
    _, rows = run()
    u = rows["U-B"]
    assert (u["targeted"], u["examined"], u["discrepant"]) == (6, 3, 1)
    assert (u["own_examined"], u["own_discrepant"], u["other_examined"], u["other_discrepant"]) \
        == (1, 1, 2, 0)
    assert (u["top_selector_id"], u["top_selector_share"]) == ("U-B", pytest.approx(1 / 3))
    # b1 weighs 1/0.2 (its first exam), not 1/0.1 (its second): 5 / (5+1.25+1.25) = ⅔
    assert u["est_hit_rate"] == pytest.approx(2 / 3)
    # variance ((⅓)²·25 + (⅔)²·(1.5625·2)) / 7.5² = (25/9 + 12.5/9) / 56.25, so
    # n = (2/9) / ((37.5/9) / 56.25) = 3
    assert (u["est_hit_rate_low"], u["est_hit_rate_high"]) == tuple(
        pytest.approx(v) for v in wilson_by_hand(2 / 3, 3))
    assert u["est_examined"] == pytest.approx(56.25 / 28.125)   # Kish: 7.5² / (25+1.5625·2)
    assert u["est_lift"] == pytest.approx((2 / 3) / (17 / 39.5))
    # its port 2222: 5 exams, 2 discrepant, less b1 (its own) = 1/4; expected 3·¼ of 3
    assert u["lift_within_ports"] == pytest.approx((1 / 3) / 0.25)
    assert (u["referrals"], u["referrals_accepted"], u["referrals_with_outcome"]) == (1, 0, 0)


def test_weighting_reverses_the_order_of_the_two_rules():
    _, rows = run()
    assert rows["Q-A"]["hit_rate"] > rows["U-B"]["hit_rate"]
    assert rows["Q-A"]["est_hit_rate"] < rows["U-B"]["est_hit_rate"]


def test_random_and_observed_choices():
    _, rows = run("random")
    q = rows["Q-A"]
    assert (q["est_method"], q["est_hit_rate"], q["est_examined"]) == ("random", 0.0, 1.0)
    _, rows = run("observed")
    assert (rows["U-B"]["est_method"], rows["U-B"]["est_hit_rate"]) == (
        "observed", pytest.approx(1 / 3))


def test_wilson_at_fractional_n_matches_the_formula():
    for rate, n in ((0.5, 4), (2 / 3, 5), (0.1, 2.5), (0.9, 123.4)):
        assert wilson_at(rate, n) == tuple(pytest.approx(v) for v in wilson_by_hand(rate, n))
    # at 0 and 1 the near end is exact, not a rounding error away (a true rate of 0 is inside)
    assert wilson_at(0.0, 40.5) == (0.0, pytest.approx(1 - 40.5 / (40.5 + Z * Z)))
    assert wilson_at(1.0, 7.0) == (pytest.approx(7 / (7 + Z * Z)), 1.0)


def test_coverage_estimates_the_share_of_violations_nobody_matches():
    project = open_project(IPW)
    report = coverage_of(project, JANUARY)
    missed = {m.what: m for m in report.missed}
    # discrepant shipments and their weights: a1 2, a2 2 (Q-A only), b1 5 (U-B), c1 4, c2 4
    # (no rule): Σ 17
    no_udr, no_rule = missed["no active UDR"], missed["no active rule"]
    assert no_udr.estimate.rate == pytest.approx(12 / 17)
    assert no_udr.observed == pytest.approx(4 / 5)
    assert no_rule.estimate.rate == pytest.approx(8 / 17)
    assert no_rule.observed == pytest.approx(2 / 5)
    # no rule: Σw² over unmatched finds 16+16 = 32, over matched 4+4+25 = 33
    r = 8 / 17
    variance = ((1 - r) ** 2 * 32 + r ** 2 * 33) / 17 ** 2
    assert (no_rule.estimate.low, no_rule.estimate.high) == tuple(
        pytest.approx(v) for v in wilson_by_hand(r, r * (1 - r) / variance))
    assert no_rule.estimate.method == "ipw" and no_rule.power_note
    recording = {row["port"]: row for row in report.recording.iter_rows(named=True)}
    assert (recording["1111"]["discrepant_exams"], recording["1111"]["alternatives"]) == (3, 1)
    assert recording["2222"]["recorded_share"] == 1.0


def test_where_every_declaration_was_examined_the_estimate_is_the_observed_rate():
    """The KCS declarations: every one examined, so each estimate is a census and says so."""
    project = open_project(Path(__file__).resolve().parents[1] / "fixtures" / "kcs"
                           / "targeting.yaml")
    rules = project.all_rules
    result = backtest(project, rules, project_window(project), [])
    rows = result.scoreboard_rows()
    assert rows and result.baseline["est_method"] == "census"
    assert result.baseline["est_hit_rate"] == result.baseline["hit_rate"]
    for row in rows:
        assert row["est_method"] == "census"
        assert (row["est_hit_rate"], row["est_hit_rate_low"], row["est_hit_rate_high"]) == (
            row["hit_rate"], row["hit_rate_low"], row["hit_rate_high"])
        assert "every shipment it matches was examined" in row["est_note"]


def test_score_p_value_is_the_test_the_wilson_interval_inverts():
    for rate, n in ((0.5, 8 / 3), (2 / 3, 3), (0.0048, 209.45), (0.3, 1000)):
        low, high = wilson_at(rate, n)
        assert score_p_value(rate, n, high, below=True) == pytest.approx(0.025)
        if low > 0:
            assert score_p_value(rate, n, low, below=False) == pytest.approx(0.025)
    # UDR-0002's last six months on one history: 1 find in 163 exams, est 0.48% at n 209, vs a
    # limit of 2.52%: z = (0.0048 − 0.0252) / √(0.0252·0.9748/209) = −1.88
    assert score_p_value(0.0048, 209.45, 0.0252, below=True) == pytest.approx(0.0298, abs=5e-4)
    assert score_p_value(0.0, 0.0, 0.1, below=True) == 1.0
