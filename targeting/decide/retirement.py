"""Which active UDRs should retire: judged like promotion, with the same estimates, evidence
floors and error control (docs/policy.md, "Retirement").

- **decayed**: its estimated precision is shown to be below `retire_factor` x the population's
  rate by a one-sided test, with the p-values of all UDRs controlled by Benjamini-Hochberg at
  `fdr`. The test is over the last `recent_months` (a decay is seen quickly) when the UDR's exams
  over the last twice that would give those months enough effective exams to show decay on
  average, else over the last twice `recent_months` (UDR-0004, 1 in 307, used to escape on a
  thin 6 months). The choice follows the long period's exam rate, which moves slowly between
  monthly cut-offs; judging the last 6 months, or the whole window when those held too few
  exams, made the proposals flip as the 6 months crossed the floor and back. A UDR whose period
  holds too few effective exams to show decay (est_n below the floor, the sample at which even
  finding nothing would show it) is "insufficient evidence": stated, not passed over in silence.
- **superseded**: another active UDR matches at least `supersede_share` of its targets (a fact
  about the two predicates on the data, not an estimate).

No finds in a short period is not a reason on its own: a rule at the bar finds nothing in 30
exams about half the time. It is said alongside a decay the test has shown.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from targeting.backtest.run import backtest
from targeting.backtest.stats import score_p_value
from targeting.backtest.window import Window
from targeting.decide.multiplicity import q_values
from targeting.decide.policy import Policy, population_rate
from targeting.project import Project
from targeting.rules.model import Rule
from targeting.units import p_value as shown_p


@dataclass(frozen=True)
class Retirement:
    """An active UDR's retirement judgement: `outcome` is 'retire', 'keep' or 'insufficient
    evidence'; `reasons` say why (for 'keep', on what evidence)."""

    rule: Rule
    reasons: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    outcome: str = "retire"

    @property
    def proposed(self) -> bool:
        return self.outcome == "retire"


@dataclass(frozen=True)
class _Decay:
    """The decay test of one UDR: over which period, against what limit, with what p-value."""

    row: dict[str, Any]          # the period's scoreboard row
    period: str                  # "the last 12 months" / "the whole window"
    limit: float
    p: float | None
    # The chosen period was too thin and the long one shows no decay: kept, outside the error
    # control (it can keep a UDR, never retire one, so proposals still come from one period).
    kept_on_long: bool = False


def retirements(project: Project, window: Window, policy: Policy,
                udrs: Sequence[Rule] | None = None) -> list[Retirement]:
    """The UDRs proposed for retirement (of `udrs`, default the project's active UDRs: the gate
    passes the base revision's)."""
    return [j for j in judge_udrs(project, window, policy, udrs) if j.proposed]


def judge_udrs(project: Project, window: Window, policy: Policy,
               udrs: Sequence[Rule] | None = None) -> list[Retirement]:
    """Every active UDR's judgement, in `udrs` order."""
    udrs = list(project.active_udrs() if udrs is None else udrs)
    if not udrs:
        return []
    full_run = backtest(project, udrs, window, udrs, estimate=policy.estimate)
    covered = {row["rule"]: row for row in full_run.containment()}
    full_run.close()
    periods = decay_periods(window, policy)
    rows = []
    for _, period in periods:
        run = backtest(project, udrs, period, estimate=policy.estimate)
        rows.append(_with_population(run.scoreboard_rows(), run.baseline))
        run.close()
    decays = [_decay_of([(label, look[i]) for (label, _), look in zip(periods, rows)], policy)
              for i in range(len(udrs))]
    q = q_values([None if d.kept_on_long else d.p for d in decays])
    return [_judgement(udr, d, qv, covered.get(i), policy)
            for i, (udr, d, qv) in enumerate(zip(udrs, decays, q))]


def decay_periods(window: Window, policy: Policy) -> list[tuple[str, Window]]:
    """The two fixed periods decay may be judged over: the last twice `recent_months`, then the
    last `recent_months` (each only when shorter than the window; else the whole window)."""
    found = []
    for months in (2 * policy.recent_months, policy.recent_months):
        period = window.last_months(months)
        if period.since > window.since:
            found.append((f"the last {months} months", period))
    return found or [("the whole window", window)]


def _decay_of(looks: list[tuple[str, dict[str, Any]]], policy: Policy) -> _Decay:
    """One UDR's decay test: over the short period when the long period's exam rate gives the
    short one enough effective exams on average, else over the long period. Chosen by the long
    period's rate, which moves slowly as cut-offs advance, not by the short period's own count,
    which crosses the floor and back from month to month (and flipped the proposals)."""
    (long_label, long_row), *rest = looks
    if rest and long_row["est_n"] * _share(rest[0][0], long_label) >= _floor(long_row, policy):
        short = _decay(rest[0][1], rest[0][0], policy)
        long = _decay(long_row, long_label, policy)
        if short.p is None and long.p is not None and long.p > policy.fdr:
            return _Decay(long.row, long.period, long.limit, long.p, kept_on_long=True)
        return short
    return _decay(long_row, long_label, policy)


def _share(short: str, long: str) -> float:
    """The short period's share of the long one, from their labels' month counts."""
    return int(short.split()[2]) / int(long.split()[2])


def _with_population(rows: list[dict[str, Any]], base: dict[str, Any]) -> list[dict[str, Any]]:
    for row in rows:
        row["baseline_hit_rate"] = population_rate(base)
    return rows


def decisive_sample(limit: float, level: float) -> float:
    """The effective sample at which finding nothing would show precision below `limit` at
    one-sided `level` (the score test at a rate of 0): z²(1 − limit)/limit. Fewer exams than
    this cannot show decay whatever they find."""
    if limit <= 0.0:
        return math.inf
    z = NormalDist().inv_cdf(1 - level)
    return z * z * (1 - limit) / limit


def _floor(row: dict[str, Any], policy: Policy) -> float:
    limit = policy.retire_factor * (row["baseline_hit_rate"] or 0.0)
    return max(float(policy.min_examined), decisive_sample(limit, policy.fdr))


def _enough(row: dict[str, Any], policy: Policy) -> bool:
    return row["est_hit_rate"] is not None and row["est_n"] >= _floor(row, policy)


def _decay(row: dict[str, Any], period: str, policy: Policy) -> _Decay:
    """The one-sided test that the UDR's precision over the period is below the limit, when the
    period holds enough effective exams to show it."""
    limit = policy.retire_factor * (row["baseline_hit_rate"] or 0.0)
    if not _enough(row, policy):
        return _Decay(row, period, limit, None)
    return _Decay(row, period, limit,
                  score_p_value(row["est_hit_rate"], row["est_n"], limit, below=True))


def _judgement(udr: Rule, d: _Decay, q: float | None, covered: dict[str, Any] | None,
               policy: Policy) -> Retirement:
    reasons = []
    row = d.row
    metrics = dict(row, decay_p_value=d.p, decay_q_value=q, decay_limit=d.limit,
                   decay_period=d.period)
    if d.p is not None and not d.kept_on_long and q is not None and q <= policy.fdr:
        none_found = " (no discrepant shipment in that time)" if row["discrepant"] == 0 else ""
        reasons.append(
            f"decayed: over {d.period} its estimated precision is {row['est_hit_rate']:.2%} "
            f"[95% CI {row['est_hit_rate_low']:.2%}–{row['est_hit_rate_high']:.2%}]{none_found}, "
            f"below {policy.retire_factor:g} x the population's rate "
            f"{row['baseline_hit_rate']:.2%} = {d.limit:.2%} (one-sided {shown_p(d.p or 0.0)}, "
            f"q = {q:.3g} vs {policy.fdr:g})")
    if covered is not None and covered["share"] >= policy.supersede_share:
        reasons.append(f"superseded: {covered['other_id']} also matches {covered['share']:.0%} "
                       f"of its targeted shipments (threshold {policy.supersede_share:.0%})")
    if reasons:
        return Retirement(udr, reasons, metrics, "retire")
    if d.p is None:
        return Retirement(udr, [f"insufficient evidence: over {d.period} it has an effective "
                                f"sample of {row['est_n'] or 0:.0f} exams, fewer than the "
                                f"{_floor(row, policy):.0f} that could show decay"], metrics,
                          "insufficient evidence")
    shown = f"q = {q:.3g}" if q is not None else f"one-sided {shown_p(d.p)}"
    kept = (f"kept: over {d.period} its estimated precision is {row['est_hit_rate']:.2%}, not "
            f"shown below {d.limit:.2%} ({shown})")
    return Retirement(udr, [kept], metrics, "keep")
