"""Small statistics shared by every metric: ratios and the Wilson score interval."""
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
