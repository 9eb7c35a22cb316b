"""Assemble what the NTC reviews: verdicts, retirements, and each candidate's details."""
from __future__ import annotations

from dataclasses import dataclass, field

from targeting.backtest.window import Window
from targeting.decide.inspect import RuleReport, inspect_rule
from targeting.decide.policy import Policy, Retirement, Verdict, decide, load_policy, retirements
from targeting.project import Project
from targeting.rules.select import Selection


@dataclass
class Review:
    """Everything `targeting candidates` shows."""

    policy: Policy
    window: Window
    data_fingerprint: str
    verdicts: list[Verdict]
    retire: list[Retirement]
    details: dict[str, RuleReport] = field(default_factory=dict)


def build_review(project: Project, window: Window, with_details: bool = False,
                 selection: Selection | None = None) -> Review:
    """Decide every active query and UDR (or those `selection` picks; retirement is still judged
    among every active UDR); with details, backtest each promotable query in full."""
    policy = load_policy(project.config.promotion, str(project.config.path))
    chosen = selection or Selection()
    queries = chosen.of([r for r in project.all_rules if r.kind == "query" and r.is_active])
    verdicts = decide(project, window, policy, queries)
    retire = [r for r in retirements(project, window, policy) if chosen.matches(r.rule)]
    review = Review(policy, window, project.dataset.fingerprint, verdicts, retire)
    if with_details:
        for verdict in verdicts:
            if verdict.promote:
                review.details[verdict.rule.id] = inspect_rule(project, verdict.rule.path,
                                                               verdict.evidence_window)
    return review
