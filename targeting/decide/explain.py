"""What would change a verdict: how much more evidence a query needs at its current rate.

Pure arithmetic on a verdict's measured figures, so the sentences renderers write
(render/criteria.py) state numbers the policy would actually accept. Nothing here decides.
"""
from __future__ import annotations

import math

from targeting.backtest.stats import wilson

# Beyond this many examined shipments the answer is "not by more exams alone": a rate this
# close to the bar would need more exams than any port makes in years.
MAX_EXAMS = 100_000


def more_exams_for_discrepant(rate: float | None, discrepant: float, needed: float) -> int | None:
    """Examined shipments still needed, at `rate`, to reach `needed` discrepant (0 when
    reached; None when the rate is zero or unknown, so no number of exams is predictable)."""
    short = needed - discrepant
    if short <= 0:
        return 0
    if not rate:
        return None
    return math.ceil(short / rate - 1e-9)


def exams_for_lower_bound(rate: float | None, examined: float, bar: float) -> int | None:
    """Examined shipments in all at which a Wilson 95% lower bound at `rate` reaches `bar`
    (None when the rate itself is at or below the bar, or the answer exceeds MAX_EXAMS: then
    only a higher hit rate would pass)."""
    if rate is None or rate <= bar:
        return None
    n = max(int(examined), 1)
    if _low(rate, n) >= bar:
        return n
    high = n
    while _low(rate, high) < bar:
        high *= 2
        if high > MAX_EXAMS:
            return None
    low = high // 2
    while low + 1 < high:  # the lower bound grows with n at a fixed rate: bisect
        mid = (low + high) // 2
        low, high = (mid, high) if _low(rate, mid) < bar else (low, mid)
    return high


def _low(rate: float, n: int) -> float:
    bound = wilson(round(rate * n), n)[0]
    return bound if bound is not None else 0.0
