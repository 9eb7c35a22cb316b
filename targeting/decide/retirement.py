"""Which active UDRs should retire: judged like promotion, with the same estimates, evidence
floors and error control (docs/policy.md, "Retirement").

- **decayed**: its estimated precision is shown to be below `retire_factor` x the population's
  rate: a one-sided test on the last `recent_months`, or on the whole window when those months
  hold fewer effective exams than the evidence floor, with the p-values of all UDRs controlled
  by Benjamini-Hochberg at `fdr`. A UDR whose whole window is below the floor is "insufficient
  evidence": stated, not passed over in silence.
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

    row: dict[str, Any] | None   # the period's scoreboard row (None: no period has evidence)
    period: str                  # "the last 6 months" / "the whole window (...)"
    limit: float
    p: float | None


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
    recent = _rows(project, udrs, window.last_months(policy.recent_months), policy)
    full_run = backtest(project, udrs, window, udrs, estimate=policy.estimate)
    full = _with_population(full_run.scoreboard_rows(), full_run.baseline)
    covered = {row["rule"]: row for row in full_run.containment()}
    full_run.close()
    decays = [_decay(recent[i], full[i], policy) for i in range(len(udrs))]
    q = q_values([d.p for d in decays])
    return [_judgement(udr, d, qv, covered.get(i), policy)
            for i, (udr, d, qv) in enumerate(zip(udrs, decays, q))]


def _rows(project: Project, udrs: list[Rule], window: Window,
          policy: Policy) -> list[dict[str, Any]]:
    run = backtest(project, udrs, window, udrs, estimate=policy.estimate)
    rows = _with_population(run.scoreboard_rows(), run.baseline)
    run.close()
    return rows


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


def _decay(recent: dict[str, Any], full: dict[str, Any], policy: Policy) -> _Decay:
    months = f"the last {policy.recent_months} months"
    if _enough(recent, policy):
        row, period = recent, months
    elif _enough(full, policy):
        row, period = full, (f"the whole window ({months} hold an effective sample of "
                             f"{recent['est_n']:.0f} exams, fewer than the "
                             f"{_floor(recent, policy):.0f} needed to judge decay)")
    else:
        return _Decay(None, months, 0.0, None)
    limit = policy.retire_factor * (row["baseline_hit_rate"] or 0.0)
    return _Decay(row, period, limit,
                  score_p_value(row["est_hit_rate"], row["est_n"], limit, below=True))


def _judgement(udr: Rule, d: _Decay, q: float | None, covered: dict[str, Any] | None,
               policy: Policy) -> Retirement:
    reasons = []
    row = d.row or {}
    metrics = dict(row, decay_p_value=d.p, decay_q_value=q, decay_limit=d.limit,
                   decay_period=d.period)
    if d.row is not None and q is not None and q <= policy.fdr:
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
    if d.row is None:
        return Retirement(udr, ["insufficient evidence: even the whole window holds too few "
                                "effective exams to show decay"], metrics, "insufficient evidence")
    kept = (f"kept: over {d.period} its estimated precision is {row['est_hit_rate']:.2%}, not "
            f"shown below {d.limit:.2%} (q = {q:.3g})" if q is not None else "kept")
    return Retirement(udr, [kept], metrics, "keep")
