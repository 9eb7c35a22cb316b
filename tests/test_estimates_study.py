"""The estimates against the truth on ten small `default` histories: the test-sized version of
benchmarks/estimates.py (whose 20-seed table is docs/estimates-study.md).

Each history is 40,000 shipments over 6 months (tests/scenario_histories.py), so fewer rules
reach an effective sample of 30 than in the full study; the thresholds are the issue's."""
from __future__ import annotations

import importlib.util

import polars as pl
import pytest
from scenario_histories import ROOT, histories

from targeting.project import open_project


def _study_module():
    spec = importlib.util.spec_from_file_location("estimates_study",
                                                  ROOT / "benchmarks" / "estimates.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scored(tmp_path_factory, worker_id):
    study = _study_module()
    parts = [study.score_project(open_project(h.path / "targeting.yaml"), h.truth, h.seed)
             for h in histories(tmp_path_factory, worker_id, "default")]
    return study, study.Scored(pl.concat([p.rules for p in parts]),
                               pl.concat([p.coverage for p in parts]))


def test_estimate_intervals_cover_the_true_precision(scored):
    study, result = scored
    s = study.summary(result)
    print(f"\n{s['pairs']} pairs: estimate intervals cover {s['est_coverage']:.1%}, observed "
          f"intervals {s['observed_coverage']:.1%}; MAE {s['est_mae']:.2%} vs "
          f"{s['observed_mae']:.2%}")
    assert s["pairs"] >= 50
    assert s["est_coverage"] >= 0.90
    # the contrast the estimate exists for: the observed rate is measured on chosen exams
    assert s["observed_coverage"] < s["est_coverage"]
    assert s["est_mae"] < s["observed_mae"]


def test_missed_share_intervals_cover_the_true_share(scored):
    study, result = scored
    s = study.summary(result)
    assert result.coverage.height == 20   # two shares, ten seeds
    assert s["missed_coverage"] >= 0.90
    assert s["missed_est_mae"] < s["missed_observed_mae"]
