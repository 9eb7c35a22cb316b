"""Error control when many rules are judged at once (docs/policy.md, "Error control").

Every active query is tested against the bar at every review. Tested one by one at 5%, a review
of fifty queries that are all at the bar promotes two or three by chance. The Benjamini-Hochberg
procedure controls the false discovery rate instead: of the queries it passes, the expected
share whose true precision is not above the bar is at most `fdr`.
"""
from __future__ import annotations

from collections.abc import Sequence


def q_values(p_values: Sequence[float | None], m: int | None = None) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (q-values), in input order; None stays None.

    q_(i) = min over j ≥ i of m·p_(j)/j for the p-values sorted ascending, capped at 1, where m
    is the number of hypotheses (by default the p-values given; more when some are judged
    elsewhere). A hypothesis is rejected at level α exactly when its q-value is ≤ α."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    total = max(m or 0, len(present))
    out: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(len(present), 0, -1):
        p, i = present[rank - 1]
        running = min(running, total * p / rank)
        out[i] = min(running, 1.0)
    return out


def expected_false(p_values: Sequence[float], passed: Sequence[bool], m: int) -> float:
    """An upper bound on the expected number of false passes among those that passed: m·t,
    where t is the largest p-value that passed (under independence, each true null passes with
    probability at most t, and there are at most m of them); capped at the number passed."""
    chosen = [p for p, ok in zip(p_values, passed) if ok]
    if not chosen:
        return 0.0
    return min(m * max(chosen), float(len(chosen)))


def sure_at_any_rank(p: float, level: float, m: int) -> str:
    """For a query judged alone (`targeting test`, the gate), whose q-value depends on every
    other query's: 'pass' when p ≤ level/m (BH passes it whatever the others' p-values), 'fail'
    when p > level (it fails whatever they are), else 'depends'."""
    if p <= level / max(m, 1):
        return "pass"
    return "fail" if p > level else "depends"
