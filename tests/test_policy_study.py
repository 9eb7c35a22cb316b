"""The policy's error control against the truth on ten small `marginal` histories: the
test-sized version of benchmarks/marginal.py (whose table is docs/policy-study.md).

At 120,000 shipments over 6 months a query near the bar has about a hundred exams, too few for
the policy to find the strong queries often (power is measured at full size in the study); the
false discovery share is bounded at any size, so that is what is tested here, with the
q-values recomputed independently from the p-values."""
from __future__ import annotations

import importlib.util
import sys

import polars as pl
import pytest
from scenario_histories import ROOT, histories

from targeting.decide.policy import load_policy
from targeting.project import open_project


def _study_module():
    spec = importlib.util.spec_from_file_location("policy_study", ROOT / "benchmarks" / "marginal.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scored(tmp_path_factory, worker_id):
    study = _study_module()
    return study, [study.score(open_project(h.path / "targeting.yaml"), h.truth, h.seed)
                   for h in histories(tmp_path_factory, worker_id, "marginal")]


def brute_force_q(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg q-values by their definition: the smallest level at which each
    hypothesis is rejected, i.e. min over the p-values at least as large of m·p / rank."""
    m = len(p_values)
    ranked = sorted(p_values)
    return [min(1.0, *(m * ranked[j] / (j + 1) for j in range(m) if ranked[j] >= p))
            for p in p_values]


def test_q_values_are_benjamini_hochberg(scored):
    _, seeded = scored
    for s in seeded:
        assert s.rows["q"].to_list() == pytest.approx(brute_force_q(s.rows["p"].to_list()))
        # Effectiveness passes exactly when q ≤ fdr: no promoted query has a larger q.
        promoted_q = s.rows.filter(pl.col("promote"))["q"].to_list()
        assert all(q <= load_policy(None).fdr for q in promoted_q)


def test_false_discovery_share_is_at_most_the_fdr(scored):
    study, seeded = scored
    fdr = load_policy(None).fdr
    policy, uncorrected = study.summary(seeded, "promote"), study.summary(seeded, "uncorrected")
    print(f"\npolicy: {policy}\nuncorrected: {uncorrected}")
    assert policy["fdr"] <= fdr, policy
    # The correction never promotes a query the uncorrected test would not, at this size (where
    # the largest passing p-value is below 2.5%); it is the stricter rule.
    for s in seeded:
        assert s.rows.filter(pl.col("promote") & ~pl.col("uncorrected")).is_empty()
    # The study has teeth: the marginal queries straddle the bar on every seed.
    for s in seeded:
        ratio = s.rows["true"] / s.rows["bar"]
        assert ((ratio >= 0.8) & (ratio < 1.0)).sum() >= 8 and (ratio >= 1.5).sum() >= 3
