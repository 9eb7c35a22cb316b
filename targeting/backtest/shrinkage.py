"""Empirical-Bayes shrinkage of rules' estimated precision (docs/metrics.md, "Shrinkage").

Ranking rules by their estimate rewards luck: a query with 21 exams that found 9 ranks above one
with 600 exams at 30%, and the rule that passes a bar is, on average, the one whose draw came out
high (the winner's curse). Treating the rules' true rates as drawn from a common beta
distribution, the posterior mean of each rule's rate pulls its estimate towards the rules' mean
by as much as its evidence is thin:

    shrunk = (rate · n + mean · k) / (n + k)

where n is the estimate's sample size (`est_n`: the binomial sample its interval is computed
at) and k the prior's concentration. The prior is fitted by the method of moments of Kleinman
(1973) over the rules evaluated together: with p̄ = Σ rate·n / N (N = Σ n) and the weighted
spread S = Σ n (rate − p̄)², the intra-class correlation is

    ρ = (S / (p̄ (1 − p̄)) − (R − 1)) / (N − Σ n² / N),   k = 1/ρ − 1,

with ρ ≤ 0 meaning no spread beyond chance (every rule shrinks to p̄) and ρ ≥ 1 no shrinkage.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

# Fewer rules with an estimate than this give no usable spread: no shrinkage is shown.
MIN_RULES = 5


@dataclass(frozen=True)
class Prior:
    """The fitted beta prior: its mean, its concentration k (α + β; inf for full pooling) and
    how many rules it was fitted on."""

    mean: float
    concentration: float
    rules: int

    def shrink(self, rate: float | None, n: float | None) -> float | None:
        """The posterior mean of a rule's rate from its estimate and sample size."""
        if rate is None or n is None or n <= 0:
            return None
        if math.isinf(n):
            return rate
        if math.isinf(self.concentration):
            return self.mean
        k = self.concentration
        return (rate * n + self.mean * k) / (n + k)


def fit_prior(rates: Sequence[float | None], sizes: Sequence[float | None]) -> Prior | None:
    """The method-of-moments beta prior over the rules with an estimate on a finite, positive
    sample (None when fewer than MIN_RULES have one)."""
    pairs = [(r, n) for r, n in zip(rates, sizes)
             if r is not None and n is not None and 0 < n < math.inf]
    if len(pairs) < MIN_RULES:
        return None
    total = sum(n for _, n in pairs)
    mean = sum(r * n for r, n in pairs) / total
    if mean <= 0.0 or mean >= 1.0:
        return Prior(mean, math.inf, len(pairs))
    spread = sum(n * (r - mean) ** 2 for r, n in pairs)
    denominator = total - sum(n * n for _, n in pairs) / total
    if denominator <= 0.0:
        return None
    rho = (spread / (mean * (1 - mean)) - (len(pairs) - 1)) / denominator
    if rho <= 0.0:
        return Prior(mean, math.inf, len(pairs))
    return Prior(mean, 0.0 if rho >= 1.0 else 1 / rho - 1, len(pairs))


def with_shrinkage(board: pl.DataFrame, population_rate: float | None) -> pl.DataFrame:
    """The scoreboard with `shrunk_hit_rate` and `shrunk_lift` (over the population's rate),
    the prior fitted over its own rows."""
    import polars as pl  # here: the policy uses this module from `test`, which loads no Polars

    rates, sizes = board["est_hit_rate"].to_list(), board["est_n"].to_list()
    prior = fit_prior(rates, sizes)
    shrunk = [prior.shrink(r, n) if prior else None for r, n in zip(rates, sizes)]
    lift = [s / population_rate if s is not None and population_rate else None for s in shrunk]
    return board.with_columns(pl.Series("shrunk_hit_rate", shrunk, pl.Float64),
                              pl.Series("shrunk_lift", lift, pl.Float64))


def sort_by_shrunk_lift(board: pl.DataFrame) -> pl.DataFrame:
    """Highest shrunk lift first, then estimated and observed lift; ties by id."""
    return board.sort(["shrunk_lift", "est_lift", "lift", "id"],
                      descending=[True, True, True, False], nulls_last=True)
