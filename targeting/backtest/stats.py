"""Small statistics shared by every metric: ratios, the Wilson score interval and its test."""
from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(discrepant: int, examined: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval for discrepant/examined; (None, None) when nothing was examined."""
    if examined == 0:
        return None, None
    if discrepant in (0, examined):  # exact ends, free of rounding
        return wilson_bounds_at_edge(discrepant, examined, z)
    p = discrepant / examined
    denom = 1 + z * z / examined
    centre = (p + z * z / (2 * examined)) / denom
    half = z * math.sqrt(p * (1 - p) / examined + z * z / (4 * examined * examined)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_bounds_at_edge(discrepant: int, examined: int, z: float = Z95) -> tuple[float, float]:
    """Wilson bounds when nothing or everything examined was discrepant: one end is exact."""
    other = examined / (examined + z * z)
    return (0.0, 1 - other) if discrepant == 0 else (other, 1.0)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def score_p_value(rate: float, n: float, bar: float, below: bool) -> float:
    """One-sided p-value of the score test that a proportion is below `bar` (`below`) or above
    it, from an estimate `rate` on (effective) sample size `n`: the test the Wilson interval
    inverts, so p < 0.025 exactly when `bar` lies outside the 95% interval on that side."""
    if n <= 0:
        return 1.0
    if bar <= 0.0 or bar >= 1.0 or math.isinf(n):
        beyond = rate < bar if below else rate > bar
        return 0.0 if beyond else 1.0
    z = (rate - bar) / math.sqrt(bar * (1 - bar) / n)
    return normal_cdf(z if below else -z)


def normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))
