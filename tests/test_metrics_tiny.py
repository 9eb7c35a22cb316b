"""Every metric on tests/data/tiny, asserted against numbers worked out by hand (docs/metrics.md)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from targeting.backtest.run import backtest
from targeting.backtest.stats import wilson
from targeting.backtest.window import Window
from targeting.project import open_project
from targeting.rules.loader import load_rules

TINY = Path(__file__).parent / "data" / "tiny"
JAN_FEB = Window(dt.date(2025, 1, 1), dt.date(2025, 2, 28))


def run(window: Window = JAN_FEB):
    project = open_project(TINY / "targeting.yaml")
    rules = load_rules([TINY / "queries", TINY / "rules"])
    udrs = [r for r in rules if r.kind == "udr"]
    result = backtest(project, rules, window, udrs)
    return result, {row["id"]: row for row in result.scoreboard().iter_rows(named=True)}


def test_baseline_counts_shipments_not_exams():
    result, _ = run()
    assert result.baseline == {
        "shipments": 7, "examined": 6, "discrepant": 4, "hit_rate": pytest.approx(4 / 6),
        "random_examined": 3, "random_discrepant": 1, "random_hit_rate": pytest.approx(1 / 3),
        # no selection probabilities: the population's rate from its 3 random exams (s1, s4,
        # s5; s4 discrepant), Wilson(1, 3)
        "est_hit_rate": pytest.approx(1 / 3), "est_hit_rate_low": pytest.approx(0.06149, abs=1e-5),
        "est_hit_rate_high": pytest.approx(0.79234, abs=1e-5), "est_method": "random",
        "est_examined": 3.0, "est_discrepant": 1.0, "est_n": 3.0, "est_note": result.baseline["est_note"],
    }


def test_query_metrics_by_hand():
    _, rows = run()
    q = rows["Q-1"]
    assert (q["targeted"], q["examined"], q["discrepant"]) == (3, 3, 2)
    assert q["hit_rate"] == pytest.approx(2 / 3)
    assert q["hit_rate_low"] == pytest.approx(0.20766, abs=1e-5)
    assert q["hit_rate_high"] == pytest.approx(0.93851, abs=1e-5)
    assert q["lift"] == pytest.approx(1.0)
    # ports without its own exams: 1111 (2/3 less s2, its own) = 2/2, 2222 = 1/2; (2·1 + 1·½)/3
    assert q["lift_within_ports"] == pytest.approx((2 / 3) / (2.5 / 3))
    assert (q["random_examined"], q["random_discrepant"]) == (2, 1)
    assert q["random_hit_rate"] == pytest.approx(0.5)
    assert q["self_selected_share"] == pytest.approx(1 / 3)
    assert q["exam_rate"] == 1.0
    assert q["flags_per_day"] == pytest.approx(3 / 59)
    assert (q["ports_targeted"], q["ports_with_hits"], q["months_with_hits"]) == (2, 2, 2)
    assert q["unique_discrepant"] == 0
    assert (q["max_overlap_id"], q["max_overlap_jaccard"]) == ("U-1", pytest.approx(0.75))
    assert (q["seizures"], q["abandonments"], q["refused_entries"], q["other_outcomes"]) == (1, 0, 1, 0)
    assert q["msrp_total"] == 1050.0
    assert q["referrals"] == 1


def test_udr_uniqueness_excludes_itself_and_null_msrp_counts_zero():
    _, rows = run()
    u1, u2 = rows["U-1"], rows["U-2"]
    assert (u1["targeted"], u1["examined"], u1["exam_rate"]) == (4, 3, 0.75)
    assert u1["unique_discrepant"] == 2
    assert (u1["max_overlap_id"], u1["max_overlap_jaccard"]) == (None, 0.0)
    assert u1["self_selected_share"] == pytest.approx(1 / 3)
    assert u2["hit_rate"] == 0.5 and u2["lift"] == pytest.approx(0.75)
    assert u2["lift_within_ports"] == pytest.approx(0.5 / 0.75)
    assert (u2["ports_targeted"], u2["ports_with_hits"], u2["months_with_hits"]) == (2, 1, 1)
    assert (u2["other_outcomes"], u2["msrp_total"], u2["random_hit_rate"]) == (1, 0.0, 0.0)


def test_rule_matching_nothing_has_null_rates():
    _, rows = run()
    q = rows["Q-2"]
    assert (q["targeted"], q["examined"], q["discrepant"]) == (0, 0, 0)
    for name in ("hit_rate", "hit_rate_low", "hit_rate_high", "lift", "lift_within_ports",
                 "random_hit_rate", "self_selected_share", "exam_rate", "max_overlap_id"):
        assert q[name] is None, name
    assert q["flags_per_day"] == 0.0 and q["max_overlap_jaccard"] == 0.0


def test_empty_window():
    result, rows = run(Window(dt.date(2030, 1, 1), dt.date(2030, 1, 31)))
    assert result.baseline["shipments"] == 0 and result.baseline["hit_rate"] is None
    assert all(r["targeted"] == 0 and r["lift"] is None for r in rows.values())


def test_window_includes_both_ends():
    _, rows = run(Window(dt.date(2025, 1, 5), dt.date(2025, 3, 1)))
    # s7 (purse, 2025-03-01) is in; Q-1 still matches only handbags: s1 (2025-01-05), s2, s4.
    assert rows["Q-1"]["targeted"] == 3
    assert rows["U-1"]["targeted"] == 5


@pytest.mark.parametrize("k, n, low, high", [(0, 10, 0.0, 0.27753), (10, 10, 0.72247, 1.0),
                                             (1, 100, 0.00177, 0.05449)])
def test_wilson_known_values(k, n, low, high):
    got = wilson(k, n)
    assert got[0] == pytest.approx(low, abs=1e-5) and got[1] == pytest.approx(high, abs=1e-5)


def test_estimate_methods_by_what_each_rule_allows():
    """No probabilities logged: census where every match was examined, else random exams."""
    _, rows = run()
    assert (rows["Q-1"]["est_method"], rows["Q-1"]["est_hit_rate"]) == ("census", pytest.approx(2 / 3))
    assert (rows["U-1"]["est_method"], rows["U-1"]["est_hit_rate"]) == ("random", 0.5)
    assert (rows["U-1"]["est_examined"], rows["U-1"]["est_discrepant"]) == (2.0, 1.0)
    assert (rows["Q-2"]["est_method"], rows["Q-2"]["est_hit_rate"]) == ("none", None)
