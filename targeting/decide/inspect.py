"""Everything an officer sees about one rule: the library behind `targeting test`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from targeting.backtest.matches import Rows
from targeting.backtest.run import backtest
from targeting.backtest.window import Window
from targeting.compile.english import describe
from targeting.decide.policy import Policy, Verdict, evidence_plan, review_size, verdicts_from
from targeting.decide.retirement import retirements
from targeting.decide.versions import Versions
from targeting.errors import Problem, RuleError
from targeting.project import Project
from targeting.rules.model import Rule

if TYPE_CHECKING:
    import polars as pl

MIN_RANDOM_EXAMS = 30  # below this the random-exam estimate is too noisy to show
SAMPLE_SIZE = 10


@dataclass
class RuleReport:
    """One rule's backtest with its context."""

    rule: Rule
    english: str
    problems: list[Problem]
    window: Window
    baseline: dict[str, Any]
    metrics: dict[str, Any]
    monthly: Rows
    by_port: Rows
    overlaps: Rows
    sample: Rows
    matched: pl.DataFrame | None = None
    verdict: Verdict | None = None
    policy_floor: int = 0  # the policy's min_examined
    # For a UDR: the reasons the policy proposes to retire it ([] when none), as `candidates`
    # finds them (among every active UDR); None for a query.
    retirement: list[str] | None = None
    policy: Policy | None = None  # the settings the verdict was judged by (for its sentences)

    @property
    def min_examined(self) -> float:
        """The policy's evidence floor: below it an estimate is shown as insufficient."""
        return float(self.policy_floor)

    @property
    def enough_random(self) -> bool:
        return bool(self.metrics["random_examined"] >= MIN_RANDOM_EXAMS)


def inspect_rule(project: Project, ref: str | Path, window: Window,
                 all_matches: bool = False) -> RuleReport:
    """Validate and backtest one rule (a path or an id) against the project's data and UDRs,
    with its promotion verdict when it is an active query.

    One backtest serves both: the rule over the window, then (for a query) the rules the policy
    needs (policy.EvidencePlan). The per-shipment engine matches each predicate once."""
    path = project.find_rule(str(ref))
    rules, problems = project.check([path])
    errors = [p for p in problems if p.severity == "error"]
    if errors or not rules:
        raise RuleError(errors or problems)
    rule = rules[0]
    policy = project.config.promotion
    plan = evidence_plan([rule] if rule.kind == "query" else [], window, policy,
                         Versions(project.config), offset=1)
    run = backtest(project, [rule, *plan.rules()], window, starts=plan.start_dates())
    verdicts = verdicts_from(run, plan, policy, review_size(project))
    report = RuleReport(
        rule=rule, english=describe(rule.where), problems=problems, window=window,
        baseline=run.baseline, metrics=run.scoreboard_rows()[0],
        monthly=run.monthly(0), by_port=run.by_port(0), overlaps=run.overlaps(0),
        sample=run.sample(0, SAMPLE_SIZE), matched=run.export(0) if all_matches else None,
        verdict=verdicts[0] if verdicts else None, policy_floor=policy.min_examined,
        retirement=_retirement(project, rule, window) if rule.kind == "udr" else None,
        policy=policy,
    )
    run.close()
    return report


def _retirement(project: Project, udr: Rule, window: Window) -> list[str]:
    """Why the policy would retire `udr`, judged among the active UDRs as `candidates` judges
    it (the file tested replaces the configured UDR of the same id), so both screens agree."""
    others = [r for r in project.active_udrs() if r.id != udr.id]
    found = retirements(project, window, project.config.promotion, [*others, udr])
    return next((r.reasons for r in found if r.rule.id == udr.id), [])
