"""The promotion policy: which queries should become UDRs, and which UDRs should retire.

Each criterion reports its measured value, its threshold and whether it passed; the written
definitions are in docs/policy.md.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from targeting.backtest.matches import Matches
from targeting.backtest.run import backtest
from targeting.backtest.stats import score_p_value
from targeting.backtest.window import Window
from targeting.data.settings import PromotionSettings, parse_settings
from targeting.decide.projection import national_projection
from targeting.project import Project
from targeting.rules.model import Rule
from targeting.units import p_value

Policy = PromotionSettings
DEFAULTS: dict[str, Any] = PromotionSettings().values


def load_policy(section: PromotionSettings | dict[str, Any] | None,
                source: str = "targeting.yaml") -> Policy:
    """The policy of a project (its typed `promotion:` settings) or of a section given as a
    mapping (defaults overlaid; ConfigError on unknown or bad keys)."""
    if isinstance(section, PromotionSettings):
        return section
    return parse_settings(PromotionSettings, section, source, "promotion")


@dataclass(frozen=True)
class Criterion:
    """One test of the policy: what was measured, against what, and the outcome."""

    name: str
    passed: bool
    value: Any
    threshold: Any
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "value": self.value, "threshold": self.threshold}


@dataclass
class Verdict:
    """A query's promotion decision with every criterion."""

    rule: Rule
    criteria: list[Criterion]
    metrics: dict[str, Any]
    evidence_window: Window

    @property
    def promote(self) -> bool:
        return all(c.passed for c in self.criteria)

    @property
    def failing(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def as_dict(self) -> dict[str, Any]:
        """The decision with every criterion (value, threshold, passed), for JSON."""
        return {"id": self.rule.id, "port": self.rule.port, "promote": self.promote,
                "evidence_window": self.evidence_window.as_dict(),
                "criteria": [c.as_dict() for c in self.criteria]}

    def strength(self) -> tuple[Any, ...]:
        """Sort key: promotable first, then more criteria passed, then higher lower-bound lift."""
        lift_low = self.metrics.get("lift_low") or 0.0
        return (not self.promote, -sum(c.passed for c in self.criteria), -lift_low, self.rule.id)

    def reasons(self) -> str:
        """Each failing criterion with why, in words: 'breadth (2 vs 3); ...'."""
        return "; ".join(f"{c.name} ({c.note or _compare(c)})" for c in self.failing)


def _compare(c: Criterion) -> str:
    return f"{_fmt(c.value)} vs {_fmt(c.threshold)}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "/".join(_fmt(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Retirement:
    """An active UDR proposed for retirement, with its reasons."""

    rule: Rule
    reasons: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)


def evidence_start(rule: Rule, window: Window, policy: Policy) -> dt.date:
    """First arrival date that counts as evidence: the day after `created` when prospective."""
    if policy.prospective and rule.created is not None:
        return max(window.since, rule.created + dt.timedelta(days=1))
    return window.since


@dataclass(frozen=True)
class EvidencePlan:
    """The rules one backtest needs to decide queries: after `offset` rules of the caller's own,
    each query from its evidence start, its national projection from the same date, and the
    query again from the start of its recent period (never before its evidence start)."""

    queries: tuple[Rule, ...]
    starts: tuple[dt.date, ...]
    recent_starts: tuple[dt.date, ...]
    offset: int = 0

    def rules(self) -> list[Rule]:
        return [*self.queries, *(national_projection(q) for q in self.queries), *self.queries]

    def start_dates(self) -> dict[int, dt.date]:
        dates = (*self.starts, *self.starts, *self.recent_starts)
        return {self.offset + i: day for i, day in enumerate(dates)}


def evidence_plan(queries: Sequence[Rule], window: Window, policy: Policy,
                  offset: int = 0) -> EvidencePlan:
    """What to backtest to decide `queries` (see EvidencePlan)."""
    starts = tuple(evidence_start(q, window, policy) for q in queries)
    recent_since = window.last_months(policy.recent_months).since
    return EvidencePlan(tuple(queries), starts, tuple(max(recent_since, s) for s in starts), offset)


def verdicts_from(run: Matches, plan: EvidencePlan, policy: Policy) -> list[Verdict]:
    """Each planned query's verdict, in plan order, read from a backtest of the plan's rules."""
    n, o = len(plan.queries), plan.offset
    board = run.scoreboard_rows()
    days = set(plan.starts) | set(plan.recent_starts)
    baselines = {day: run.baseline_since(day) for day in days}
    verdicts = []
    for i, rule in enumerate(plan.queries):
        recent_base = population_rate(baselines[plan.recent_starts[i]])
        recent = dict(board[o + 2 * n + i], baseline_hit_rate=recent_base)
        evidence = Window(plan.starts[i], run.window.until)
        verdicts.append(_verdict(rule, board[o + i], board[o + n + i], recent,
                                 baselines[plan.starts[i]], evidence, policy))
    return verdicts


def decide(project: Project, window: Window, policy: Policy,
           queries: Sequence[Rule] | None = None) -> list[Verdict]:
    """A verdict for each query (default: the project's active queries), strongest first, from
    one backtest over the window (see EvidencePlan)."""
    if queries is None:
        queries = [r for r in project.all_rules if r.kind == "query" and r.is_active]
    plan = evidence_plan(queries, window, policy)
    run = backtest(project, plan.rules(), window, project.active_udrs(), starts=plan.start_dates(),
                   estimate=policy.estimate)
    verdicts = verdicts_from(run, plan, policy)
    run.close()
    return sorted(verdicts, key=Verdict.strength)


def _rows(run: Matches) -> dict[str, dict[str, Any]]:
    board = run.scoreboard_rows()
    for row in board:
        row["baseline_hit_rate"] = population_rate(run.baseline)
    return {row["id"]: row for row in board}


def effectiveness_threshold(policy: Policy, baseline_rate: float | None) -> float:
    """The lower bound a rule needs: max(min_hit_rate, lift_factor x baseline)."""
    return max(policy.min_hit_rate, policy.lift_factor * (baseline_rate or 0.0))


def population_rate(base: dict[str, Any]) -> float | None:
    """The baseline the bar is a multiple of: the population's estimated rate (the observed
    hit rate of all exams when no estimate is possible, or when the policy asks for observed)."""
    estimate: float | None = base.get("est_hit_rate")
    return estimate if estimate is not None else base["hit_rate"]


def _verdict(rule: Rule, m: dict[str, Any], national: dict[str, Any], recent: dict[str, Any],
             base: dict[str, Any], evidence: Window,
             policy: Policy) -> Verdict:
    threshold = effectiveness_threshold(policy, population_rate(base))
    recent_threshold = effectiveness_threshold(policy, recent["baseline_hit_rate"])
    low, recent_low = m["est_hit_rate_low"] or 0.0, recent["est_hit_rate_low"] or 0.0
    flags = national["targeted"] / evidence.days if evidence.days else 0.0
    overlap = m["max_overlap_jaccard"] or 0.0
    matches = sum(e.should_match for e in rule.examples)
    criteria = [
        Criterion("evidence",
                  m["est_examined"] >= policy.min_examined
                  and m["est_discrepant"] >= policy.min_discrepant,
                  {"examined": m["est_examined"], "discrepant": m["est_discrepant"]},
                  {"examined": policy.min_examined, "discrepant": policy.min_discrepant},
                  f"effective sample {m['est_examined']:.0f} examined, {m['est_discrepant']:.0f} "
                  f"discrepant ({m['est_method']}) vs {policy.min_examined} and "
                  f"{policy.min_discrepant}"),
        Criterion("effectiveness", m["est_hit_rate_low"] is not None and low >= threshold, low,
                  threshold, f"estimated precision's lower bound {low:.2%} vs {threshold:.2%}"),
        Criterion("breadth", national["ports_with_hits"] >= policy.min_ports, national["ports_with_hits"],
                  policy.min_ports, f"national projection hits at {national['ports_with_hits']} ports"
                  f" vs {policy.min_ports}"),
        Criterion("persistence",
                  m["months_with_hits"] >= policy.min_months and recent_low >= recent_threshold,
                  {"months_with_hits": m["months_with_hits"], "recent_hit_rate_low": recent_low},
                  {"months_with_hits": policy.min_months, "recent_hit_rate_low": recent_threshold},
                  f"{m['months_with_hits']} months with hits vs {policy.min_months}; last "
                  f"{policy.recent_months} months lower bound {recent_low:.2%} vs {recent_threshold:.2%}"),
        Criterion("novelty", m["unique_discrepant"] >= policy.min_unique and overlap <= policy.max_overlap,
                  {"unique_discrepant": m["unique_discrepant"], "max_overlap_jaccard": overlap},
                  {"unique_discrepant": policy.min_unique, "max_overlap_jaccard": policy.max_overlap},
                  f"{m['unique_discrepant']} discrepant no UDR catches vs {policy.min_unique}; "
                  f"overlap {overlap:.0%} with {m['max_overlap_id']} vs {policy.max_overlap:.0%}"),
        Criterion("workload", flags <= policy.max_flags_per_day, flags, policy.max_flags_per_day,
                  f"national projection {flags:.1f} flags/day vs {policy.max_flags_per_day:g}"),
        Criterion("examples", matches >= 1 and len(rule.examples) - matches >= 1,
                  {"match": matches, "no_match": len(rule.examples) - matches},
                  {"match": 1, "no_match": 1}, "needs at least one match and one no_match example"),
    ]
    population = population_rate(base)
    lift_low = low / population if population else None
    measured = dict(m, lift_low=lift_low, baseline_hit_rate=population,
                    national_flags_per_day=flags, national_ports_with_hits=national["ports_with_hits"],
                    recent_hit_rate_low=recent["est_hit_rate_low"])
    return Verdict(rule, criteria, measured, evidence)


def retirements(project: Project, window: Window, policy: Policy,
                udrs: Sequence[Rule] | None = None) -> list[Retirement]:
    """Active UDRs that have decayed, gone quiet, or are covered by another UDR (of `udrs`,
    default the project's active UDRs: the gate passes the base revision's)."""
    udrs = list(project.active_udrs() if udrs is None else udrs)
    if not udrs:
        return []
    recent_run = backtest(project, udrs, window.last_months(policy.recent_months), udrs,
                          estimate=policy.estimate)
    recent = _rows(recent_run)
    quiet = _rows(backtest(project, udrs, window.last_months(policy.retire_after_months), udrs,
                           estimate=policy.estimate))
    full = backtest(project, udrs, window, udrs, estimate=policy.estimate)
    covered = {row["rule"]: row for row in full.containment()}
    found = []
    for i, udr in enumerate(udrs):
        reasons = _retire_reasons(recent[udr.id], quiet[udr.id], covered.get(i), policy)
        if reasons:
            found.append(Retirement(udr, reasons, recent[udr.id]))
    return found


DECAY_LEVEL = 0.05  # a one-sided test: retire when precision below the limit is 95% certain


def decay_p_value(recent: dict[str, Any], limit: float) -> float:
    """One-sided p-value that the recent estimated precision is below `limit` (1 when there is
    no estimate)."""
    if recent.get("est_hit_rate") is None:
        return 1.0
    return score_p_value(recent["est_hit_rate"], recent["est_n"], limit, below=True)


def _retire_reasons(recent: dict[str, Any], quiet: dict[str, Any], covered: dict[str, Any] | None,
                    policy: Policy) -> list[str]:
    reasons = []
    limit = policy.retire_factor * (recent["baseline_hit_rate"] or 0.0)
    p_below = decay_p_value(recent, limit)
    if p_below < DECAY_LEVEL:
        reasons.append(f"decayed: over the last {policy.recent_months} months its estimated "
                       f"precision is {recent['est_hit_rate']:.2%} [95% CI "
                       f"{recent['est_hit_rate_low']:.2%}–{recent['est_hit_rate_high']:.2%}], "
                       f"below {policy.retire_factor:g} x the population's rate "
                       f"{recent['baseline_hit_rate']:.2%} = {limit:.2%} "
                       f"(one-sided {p_value(p_below)})")
    if quiet["discrepant"] == 0:
        reasons.append(f"quiet: no discrepant shipment in the last {policy.retire_after_months} months")
    if covered is not None and covered["share"] >= policy.supersede_share:
        reasons.append(f"superseded: {covered['other_id']} also matches {covered['share']:.0%} of its "
                       f"targeted shipments (threshold {policy.supersede_share:.0%})")
    return reasons
