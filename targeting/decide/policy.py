"""The promotion policy: which queries should become UDRs, and which UDRs should retire.

Each criterion reports its measured value, its threshold and whether it passed; the written
definitions are in docs/policy.md.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from targeting.backtest.matches import Matches
from targeting.backtest.run import backtest
from targeting.backtest.shrinkage import fit_prior
from targeting.backtest.stats import score_p_value
from targeting.backtest.window import Window
from targeting.data.settings import PromotionSettings, parse_settings
from targeting.decide.multiplicity import expected_false, q_values, sure_at_any_rank
from targeting.decide.projection import away_projection, national_projection
from targeting.decide.versions import UNREGISTERED, Versions
from targeting.project import Project
from targeting.rules.model import Rule

Policy = PromotionSettings
# Persistence fails when the recent months show the query below the bar at this one-sided level
# (the test retirement uses for decay). Asking instead for a second significant result above
# the bar on a quarter of the evidence missed a third of the strong queries of the marginal
# study and added no protection (docs/policy-study.md).
PERSISTENCE_LEVEL = 0.05
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
    """A query's promotion decision with every criterion, and the scope it would run at:
    national when the `transfer` test passes, otherwise as a UDR at its own port."""

    rule: Rule
    criteria: list[Criterion]
    metrics: dict[str, Any]
    evidence_window: Window
    transfer: Criterion = field(default_factory=lambda: Criterion("transfer", True, None, None))
    evidence_source: str = "created"  # what set the evidence start (EvidenceStart.source)

    @property
    def promote(self) -> bool:
        return all(c.passed for c in self.criteria)

    @property
    def scope(self) -> str:
        """'national' when the national projection has earned it, else 'port'."""
        return "national" if self.transfer.passed else "port"

    def outcome(self, national: bool = False) -> str:
        """The verdict in words; `national` asks for a national UDR specifically."""
        if not self.promote:
            return "not yet"
        if self.transfer.passed:
            return "promote (national)" if self.rule.port else "promote"
        if national and self.transfer.value is None:
            return "not yet, insufficient evidence elsewhere"
        return "promote as a port UDR"

    @property
    def failing(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def as_dict(self) -> dict[str, Any]:
        """The decision with every criterion (value, threshold, passed), for JSON."""
        return {"id": self.rule.id, "port": self.rule.port, "promote": self.promote,
                "outcome": self.outcome(), "scope": self.scope,
                "evidence_window": self.evidence_window.as_dict(),
                "evidence_start": self.evidence_window.since.isoformat(),
                "evidence_source": self.evidence_source,
                "p_value": self.metrics.get("p_value"), "q_value": self.metrics.get("q_value"),
                "est_hit_rate": self.metrics.get("est_hit_rate"),
                "shrunk_hit_rate": self.metrics.get("shrunk_hit_rate"),
                "predicted_hit_rate": self.metrics.get("predicted_hit_rate"),
                "criteria": [c.as_dict() for c in self.criteria],
                "transfer": self.transfer.as_dict()}

    def strength(self) -> tuple[Any, ...]:
        """Sort key: promotable first, then more criteria passed, then the higher shrunk
        estimate (a lucky draw on few exams does not rank first), then lower-bound lift."""
        lift_low = self.metrics.get("lift_low") or 0.0
        shrunk = self.metrics.get("shrunk_hit_rate")
        return (not self.promote, -sum(c.passed for c in self.criteria),
                -(shrunk if shrunk is not None else -1.0), -lift_low, self.rule.id)

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
class EvidenceStart:
    """The first arrival date that counts as a query's evidence, and its source: git, ledger
    or created (the source consulted), unregistered (the source has not seen the current
    predicate: no evidence yet) or window (`prospective: false`)."""

    day: dt.date
    source: str


def evidence_start(rule: Rule, window: Window, policy: Policy, versions: Versions) -> EvidenceStart:
    """The later of the day after `created` and the day after the rule's current predicate
    first appeared (docs/policy.md, "Versioned evidence"); never before the window."""
    if not policy.prospective:
        return EvidenceStart(window.since, "window")
    seen = versions.seen(rule)
    if seen.source == UNREGISTERED:
        return EvidenceStart(window.until + dt.timedelta(days=1), UNREGISTERED)
    after = [day + dt.timedelta(days=1) for day in (rule.created, seen.day) if day is not None]
    return EvidenceStart(max([window.since, *after]), seen.source)


@dataclass(frozen=True)
class EvidencePlan:
    """The rules one backtest needs to decide queries: after `offset` rules of the caller's own,
    each query from its evidence start, its national projection from the same date, and the
    query again from the start of its recent period (never before its evidence start)."""

    queries: tuple[Rule, ...]
    starts: tuple[dt.date, ...]
    recent_starts: tuple[dt.date, ...]
    offset: int = 0
    sources: tuple[str, ...] = ()  # each start's source (EvidenceStart.source)

    def rules(self) -> list[Rule]:
        """The queries, their national projections, the queries again (recent), then the
        projections outside each query's home ports, for those that have one."""
        aways = [a for a in map(away_projection, self.queries) if a is not None]
        return [*self.queries, *(national_projection(q) for q in self.queries), *self.queries,
                *aways]

    def start_dates(self) -> dict[int, dt.date]:
        away_starts = [s for q, s in zip(self.queries, self.starts) if away_projection(q)]
        dates = (*self.starts, *self.starts, *self.recent_starts, *away_starts)
        return {self.offset + i: day for i, day in enumerate(dates)}

    def away_index(self, i: int) -> int | None:
        """Where query i's outside-its-ports projection sits in rules(), if it has one."""
        if away_projection(self.queries[i]) is None:
            return None
        before = sum(away_projection(q) is not None for q in self.queries[:i])
        return self.offset + 3 * len(self.queries) + before


def evidence_plan(queries: Sequence[Rule], window: Window, policy: Policy, versions: Versions,
                  offset: int = 0) -> EvidencePlan:
    """What to backtest to decide `queries` (see EvidencePlan)."""
    found = [evidence_start(q, window, policy, versions) for q in queries]
    starts = tuple(f.day for f in found)
    recent_since = window.last_months(policy.recent_months).since
    return EvidencePlan(tuple(queries), starts, tuple(max(recent_since, s) for s in starts), offset,
                        tuple(f.source for f in found))


def verdicts_from(run: Matches, plan: EvidencePlan, policy: Policy,
                  review_size: int | None = None) -> list[Verdict]:
    """Each planned query's verdict, in plan order, read from a backtest of the plan's rules.

    The effectiveness test is controlled across the review (multiplicity.py): when the plan
    holds the whole review, by Benjamini-Hochberg over its queries; when it holds part of one
    (`review_size` queries in all: `targeting test`, the gate), a query passes or fails only
    where it would whatever the others' p-values are, and otherwise 'depends on the review'."""
    n, o = len(plan.queries), plan.offset
    board = run.scoreboard_rows()
    days = set(plan.starts) | set(plan.recent_starts)
    baselines = {day: run.baseline_since(day) for day in days}
    measured = []
    for i, rule in enumerate(plan.queries):
        recent_base = population_rate(baselines[plan.recent_starts[i]])
        recent = dict(board[o + 2 * n + i], baseline_hit_rate=recent_base)
        at = plan.away_index(i)
        away = board[at] if at is not None else None
        evidence = Window(plan.starts[i], run.window.until)
        verdict = _measure(rule, board[o + i], board[o + n + i], away, recent,
                           baselines[plan.starts[i]], evidence, policy)
        _set_source(verdict, plan.sources[i] if plan.sources else "created")
        measured.append(verdict)
    _shrink(measured, [board[o + n + i] for i in range(n)])
    return _judge(measured, policy, review_size)


def _shrink(measured: list[Verdict], nationals: list[dict[str, Any]]) -> None:
    """Each verdict's shrunk estimate (backtest/shrinkage.py, the prior fitted over the queries
    judged together) and the hit rate to expect after promotion: the shrunk estimate of the rule
    as it would run (its national projection when national). The raw estimate of a query that
    passed a bar is, on average, too high; this is what the NTC should plan on."""
    prior = fit_prior([v.metrics["est_hit_rate"] for v in measured],
                      [v.metrics["est_n"] for v in measured])
    for verdict, national in zip(measured, nationals):
        runs = national if verdict.scope == "national" else verdict.metrics
        verdict.metrics["shrunk_hit_rate"] = prior.shrink(verdict.metrics["est_hit_rate"],
                                                          verdict.metrics["est_n"]) if prior else None
        verdict.metrics["predicted_hit_rate"] = prior.shrink(runs["est_hit_rate"],
                                                             runs["est_n"]) if prior else None


UNREGISTERED_NOTE = ("no evidence yet: its current predicate is unregistered (not committed on "
                     "this branch, or not registered with `targeting register`, as the evidence "
                     "source requires); evidence counts from the day after it is")


def _set_source(verdict: Verdict, source: str) -> None:
    verdict.evidence_source = verdict.metrics["evidence_source"] = source
    if source == UNREGISTERED:
        verdict.criteria[0] = dataclasses.replace(verdict.criteria[0], note=UNREGISTERED_NOTE)


def review_size(project: Project) -> int:
    """How many queries a review of the project judges at once: its active queries."""
    return max(sum(r.kind == "query" and r.is_active for r in project.all_rules), 1)


def decide(project: Project, window: Window, policy: Policy,
           queries: Sequence[Rule] | None = None, versions: Versions | None = None) -> list[Verdict]:
    """A verdict for each query (default: the project's active queries, the whole review),
    strongest first, from one backtest over the window (see EvidencePlan); evidence starts
    by `versions` (default: the project's evidence source)."""
    review = [r for r in project.all_rules if r.kind == "query" and r.is_active]
    chosen = review if queries is None else list(queries)
    plan = evidence_plan(chosen, window, policy, versions or Versions(project.config))
    run = backtest(project, plan.rules(), window, project.active_udrs(), starts=plan.start_dates(),
                   estimate=policy.estimate)
    verdicts = verdicts_from(run, plan, policy, None if queries is None else review_size(project))
    run.close()
    return sorted(verdicts, key=Verdict.strength)


def _rows(run: Matches) -> dict[str, dict[str, Any]]:
    board = run.scoreboard_rows()
    for row in board:
        row["baseline_hit_rate"] = population_rate(run.baseline)
    return {row["id"]: row for row in board}


def effectiveness_threshold(policy: Policy, baseline_rate: float | None) -> float:
    """The bar: max(min_hit_rate, lift_factor x the population's rate)."""
    return max(policy.min_hit_rate, policy.lift_factor * (baseline_rate or 0.0))


def population_rate(base: dict[str, Any]) -> float | None:
    """The baseline the bar is a multiple of: the population's estimated rate (the observed
    hit rate of all exams when no estimate is possible, or when the policy asks for observed)."""
    estimate: float | None = base.get("est_hit_rate")
    return estimate if estimate is not None else base["hit_rate"]


def below_bar_p_value(m: dict[str, Any], bar: float) -> float:
    """One-sided p-value that the estimated precision is below `bar` (1 with no estimate:
    nothing shows it below)."""
    if m.get("est_hit_rate") is None:
        return 1.0
    return score_p_value(m["est_hit_rate"], m["est_n"], bar, below=True)


def above_bar_p_value(m: dict[str, Any], bar: float) -> float:
    """One-sided p-value that the estimated precision is above `bar` (1 with no estimate)."""
    if m.get("est_hit_rate") is None:
        return 1.0
    return score_p_value(m["est_hit_rate"], m["est_n"], bar, below=False)


def _has_evidence(m: dict[str, Any] | None, policy: Policy) -> bool:
    return m is not None and m["est_examined"] >= policy.min_examined \
        and m["est_discrepant"] >= policy.min_discrepant


def _measure(rule: Rule, m: dict[str, Any], national: dict[str, Any], away: dict[str, Any] | None,
             recent: dict[str, Any], base: dict[str, Any], evidence: Window,
             policy: Policy) -> Verdict:
    """The verdict before error control: every criterion but effectiveness is final."""
    population = population_rate(base)
    threshold = effectiveness_threshold(policy, population)
    recent_threshold = effectiveness_threshold(policy, recent["baseline_hit_rate"])
    low = m["est_hit_rate_low"] or 0.0
    recent_p = below_bar_p_value(recent, recent_threshold)
    transfer = _transfer(away, national, threshold, policy)
    scope_row = national if transfer.passed else m
    flags = scope_row["targeted"] / evidence.days if evidence.days else 0.0
    overlap = m["max_overlap_jaccard"] or 0.0
    matches = sum(e.should_match for e in rule.examples)
    p = above_bar_p_value(m, threshold)
    criteria = [
        Criterion("evidence", _has_evidence(m, policy),
                  {"examined": m["est_examined"], "discrepant": m["est_discrepant"]},
                  {"examined": policy.min_examined, "discrepant": policy.min_discrepant},
                  f"effective sample {m['est_examined']:.0f} examined, {m['est_discrepant']:.0f} "
                  f"discrepant ({m['est_method']}) vs {policy.min_examined} and "
                  f"{policy.min_discrepant}"),
        Criterion("effectiveness", False, p, threshold, ""),  # decided by _judge
        Criterion("persistence",
                  m["months_with_hits"] >= policy.min_months and recent_p >= PERSISTENCE_LEVEL,
                  {"months_with_hits": m["months_with_hits"],
                   "recent_hit_rate": recent["est_hit_rate"], "recent_p_below": recent_p},
                  {"months_with_hits": policy.min_months, "recent_hit_rate": recent_threshold,
                   "recent_p_below": PERSISTENCE_LEVEL},
                  f"{m['months_with_hits']} months with hits vs {policy.min_months}; over the "
                  f"last {policy.recent_months} months not shown below the bar "
                  f"{recent_threshold:.2%} (one-sided p = {recent_p:.3g} vs {PERSISTENCE_LEVEL:g})"),
        Criterion("novelty", m["unique_discrepant"] >= policy.min_unique and overlap <= policy.max_overlap,
                  {"unique_discrepant": m["unique_discrepant"], "max_overlap_jaccard": overlap},
                  {"unique_discrepant": policy.min_unique, "max_overlap_jaccard": policy.max_overlap},
                  f"{m['unique_discrepant']} discrepant no UDR catches vs {policy.min_unique}; "
                  f"overlap {overlap:.0%} with {m['max_overlap_id']} vs {policy.max_overlap:.0%}"),
        Criterion("workload", flags <= policy.max_flags_per_day, flags, policy.max_flags_per_day,
                  f"{'national projection' if transfer.passed else 'at its port'} {flags:.1f} "
                  f"flags/day vs {policy.max_flags_per_day:g}"),
        Criterion("examples", matches >= 1 and len(rule.examples) - matches >= 1,
                  {"match": matches, "no_match": len(rule.examples) - matches},
                  {"match": 1, "no_match": 1}, "needs at least one match and one no_match example"),
    ]
    lift_low = low / population if population else None
    metrics = dict(m, lift_low=lift_low, baseline_hit_rate=population, p_value=p,
                   workload_scope="national" if transfer.passed else "port",
                   national_flags_per_day=national["targeted"] / evidence.days if evidence.days
                   else 0.0,
                   national_ports_with_hits=national["ports_with_hits"],
                   recent_hit_rate_low=recent["est_hit_rate_low"],
                   recent_hit_rate=recent["est_hit_rate"], recent_p_below=recent_p,
                   away_hit_rate=away["est_hit_rate"] if away else None,
                   away_hit_rate_low=away["est_hit_rate_low"] if away else None,
                   away_examined=away["est_examined"] if away else None)
    return Verdict(rule, criteria, metrics, evidence, transfer)


def _transfer(away: dict[str, Any] | None, national: dict[str, Any], bar: float,
              policy: Policy) -> Criterion:
    """Whether the query would work as a national UDR: its national projection's own estimate
    on shipments outside its home ports clears the bar, on its own evidence floor, with hits at
    `min_ports` ports. A query with no home port is national already."""
    if away is None:
        return Criterion("transfer", True, None, bar, "no home port: it is national already")
    ports = national["ports_with_hits"]
    if not _has_evidence(away, policy):
        return Criterion("transfer", False, None, bar,
                         f"insufficient evidence elsewhere: outside its port the national "
                         f"projection has an effective sample of {away['est_examined']:.0f} "
                         f"examined, {away['est_discrepant']:.0f} discrepant, vs "
                         f"{policy.min_examined} and {policy.min_discrepant}")
    low = away["est_hit_rate_low"] or 0.0
    passed = low >= bar and ports >= policy.min_ports
    return Criterion("transfer", passed, {"away_hit_rate_low": low, "ports_with_hits": ports},
                     {"away_hit_rate_low": bar, "ports_with_hits": policy.min_ports},
                     f"outside its port the national projection's lower bound is {low:.2%} vs "
                     f"{bar:.2%}, with hits at {ports} ports vs {policy.min_ports}")


def _judge(measured: list[Verdict], policy: Policy, review_size: int | None) -> list[Verdict]:
    """Decide effectiveness across the review (see verdicts_from)."""
    p_values = [v.metrics["p_value"] for v in measured]
    whole = review_size is None
    q = q_values(p_values) if whole else [None] * len(measured)
    m = len(measured) if whole else max(review_size or 0, len(measured))
    for verdict, p, qv in zip(measured, p_values, q):
        bar = verdict.criteria[1].threshold
        if whole:
            assert qv is not None
            passed, note = qv <= policy.fdr, (f"estimated precision above the bar {bar:.2%}: "
                                              f"p = {p:.3g}, q = {qv:.3g} vs {policy.fdr:g}")
        else:
            state = sure_at_any_rank(p, policy.fdr, m)
            passed = state == "pass"
            note = (f"estimated precision above the bar {bar:.2%}: p = {p:.3g}; "
                    + {"pass": f"passes at any review of {m} queries (p ≤ {policy.fdr:g}/{m})",
                       "fail": f"fails at any review (p > {policy.fdr:g})",
                       "depends": f"its q-value depends on the other {m - 1} queries: "
                                  "`targeting candidates` decides"}[state])
        verdict.criteria[1] = Criterion("effectiveness", passed, p, bar, note)
        verdict.metrics["q_value"] = qv
    if whole:
        expected = expected_false(p_values, [v.promote for v in measured], len(measured))
        for verdict in measured:
            verdict.metrics["expected_false_promotions"] = expected
    return measured
