"""What a rule's matches would show if examined without anyone's hand on the scale.

A rule's observed hit rate is measured on exams others chose, often the rule itself, so it
estimates nothing in particular. Three estimates of its precision over *every* shipment it
matches, by what the data allows (docs/metrics.md, "Estimates"):

- **ipw**: every examined match carries the probability, logged at selection, that it would be
  examined at all (`selection_probability`). The Hajek estimator weights each exam by 1/p:
  p̂ = Σ y/p / Σ 1/p. Its variance is the with-replacement (linearisation) approximation
  Σ (y − p̂)²/p² / (Σ 1/p)², the default of survey software, and the interval is the Wilson
  score interval at the sample size that variance implies (p̂(1 − p̂)/variance); where p̂ is 0
  or 1, at Kish's effective sample size (Σ 1/p)² / Σ 1/p². The Poisson-design variance, with
  1/p² − 1/p in place of 1/p², is smaller and unbiased on average, but it is itself so noisy
  when a few discrepant exams carry the estimate that its intervals covered the truth in 91% of
  the study's cases, the with-replacement form in 98% (docs/estimates-study.md). Valid when
  every shipment could have been examined (p > 0, which random exams guarantee) and the
  probabilities were logged at selection time.
- **random**: the rule's matches that random compliance exams chose, a uniform sample; Wilson.
- **census**: every match was examined (labelled data such as the KCS declarations): the
  observed rate is the estimate.
- **observed** (`promotion.estimate: observed`): today's naive rate, when asked for.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from targeting.backtest.stats import Z95, ratio, wilson
from targeting.data.settings import ESTIMATES as METHODS


@dataclass(frozen=True)
class Estimate:
    """A precision estimate, its 95% interval, how it was made and on how much evidence."""

    rate: float | None
    low: float | None
    high: float | None
    method: str          # ipw, random, census, observed, none
    examined: float      # effective sample size
    discrepant: float    # the discrepant exams the estimate rests on
    note: str            # why this method, or why none
    n: float = 0.0       # the sample size its interval (and any test of it) is computed at

    def as_row(self, prefix: str = "est") -> dict[str, Any]:
        return {f"{prefix}_hit_rate": self.rate, f"{prefix}_hit_rate_low": self.low,
                f"{prefix}_hit_rate_high": self.high, f"{prefix}_method": self.method,
                f"{prefix}_examined": self.examined, f"{prefix}_discrepant": self.discrepant,
                f"{prefix}_n": self.n, f"{prefix}_note": self.note}


def estimate(c: Mapping[str, Any], choice: str = "auto") -> Estimate:
    """The estimate from a rule's (or the population's) counts and weight sums.

    `c` holds targeted, examined, discrepant, random_examined, random_discrepant, and the
    weight sums est_w (Σ 1/p over examined), est_wy (over discrepant), est_v1 / est_v0
    (Σ 1/p² − 1/p over discrepant / other examined), est_wsq (Σ 1/p²) and est_unweighted
    (examined without a probability)."""
    if choice not in METHODS:
        raise ValueError(f"unknown estimate {choice!r}; expected one of {', '.join(METHODS)}")
    examined, discrepant = c["examined"], c["discrepant"]
    if choice == "observed":
        return _observed(discrepant, examined, "observed", "the observed hit rate, as configured")
    if examined == 0:
        return _none("nothing it matches was examined")
    if choice == "auto" and examined == c["targeted"]:
        return _observed(discrepant, examined, "census",
                         "every shipment it matches was examined, so the estimate is the observed "
                         "rate; its interval is the Wilson interval of that rate")
    weighted = c["est_unweighted"] == 0 and c["est_w"] > 0
    if choice in ("auto", "ipw") and weighted:
        return ipw(c)
    if choice == "ipw":
        missing = c["est_unweighted"]
        return _none(f"{missing:,} of its {examined:,} examined shipments have no selection "
                     "probability" if missing else "the data logs no selection probabilities")
    if c["random_examined"] > 0:
        low, high = wilson(c["random_discrepant"], c["random_examined"])
        return Estimate(ratio(c["random_discrepant"], c["random_examined"]), low, high, "random",
                        float(c["random_examined"]), float(c["random_discrepant"]),
                        f"from its {c['random_examined']:,} random compliance exams only"
                        + ("" if choice == "random" else "; the data logs no selection "
                           "probabilities"), float(c["random_examined"]))
    return _none("no selection probabilities and no random exams among its matches")


def ipw(c: Mapping[str, Any]) -> Estimate:
    """The Hajek estimate and its design-based Wilson interval (see the module's docstring)."""
    w, wy, v1, v0, wsq = c["est_w"], c["est_wy"], c["est_v1"], c["est_v0"], c["est_wsq"]
    rate = wy / w
    kish = w * w / wsq if wsq else 0.0
    # Σ w² over discrepant exams is v1 + Σ w there (v1 sums w² − w); likewise for the rest.
    found_sq, clean_sq = v1 + wy, v0 + (w - wy)
    variance = ((1 - rate) ** 2 * found_sq + rate ** 2 * clean_sq) / (w * w)
    n = rate * (1 - rate) / variance if variance > 0 and 0 < rate < 1 else kish
    low, high = wilson_at(rate, n)
    return Estimate(rate, low, high, "ipw", kish, float(c["discrepant"]),
                    "weighted by the selection probabilities logged with its exams", n)


def wilson_at(rate: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion `rate` at a (possibly fractional) sample size
    `n`; the exact ends at 0 and 1 as for a count; [rate, rate] when n is infinite (no
    sampling error: every match was certain to be examined)."""
    if math.isinf(n):
        return rate, rate
    if n <= 0:
        return 0.0, 1.0
    if rate in (0.0, 1.0):  # exact ends, free of rounding
        other = n / (n + z * z)
        return (0.0, 1 - other) if rate == 0.0 else (other, 1.0)
    denom = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denom
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _observed(discrepant: int, examined: int, method: str, note: str) -> Estimate:
    low, high = wilson(discrepant, examined)
    return Estimate(ratio(discrepant, examined), low, high, method, float(examined),
                    float(discrepant), note, float(examined))


def _none(reason: str) -> Estimate:
    return Estimate(None, None, None, "none", 0.0, 0.0, reason)
