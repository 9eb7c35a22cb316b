"""Assemble what the NTC reviews: verdicts, retirements, and each candidate's details."""
from __future__ import annotations

from dataclasses import dataclass, field

from targeting.backtest.window import Window
from targeting.decide.inspect import RuleReport, inspect_rule
from targeting.decide.policy import Policy, Verdict, decide, load_policy
from targeting.decide.retirement import Retirement, judge_udrs
from targeting.decide.versions import Versions
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
    unjudged: list[Retirement] = field(default_factory=list)  # UDRs with too little evidence
    details: dict[str, RuleReport] = field(default_factory=dict)
    evidence_source: str = "created"  # where evidence dates come from, in words (Versions.describe)

    @property
    def expected_false_promotions(self) -> float:
        """An upper bound on how many of the promotable queries are not truly above the bar
        (multiplicity.expected_false)."""
        return float(self.verdicts[0].metrics.get("expected_false_promotions", 0.0)) \
            if self.verdicts else 0.0


def build_review(project: Project, window: Window, with_details: bool = False,
                 selection: Selection | None = None) -> Review:
    """Decide every active query and UDR (or those `selection` picks; retirement is still judged
    among every active UDR); with details, backtest each promotable query in full."""
    policy = load_policy(project.config.promotion, str(project.config.path))
    chosen = selection or Selection()
    # The whole review is decided (its error control counts every active query); the
    # selection picks which verdicts to show.
    versions = Versions(project.config)
    verdicts = [v for v in decide(project, window, policy, versions=versions)
                if chosen.matches(v.rule)]
    udrs = [j for j in judge_udrs(project, window, policy) if chosen.matches(j.rule)]
    review = Review(policy, window, project.dataset.fingerprint, verdicts,
                    [j for j in udrs if j.proposed],
                    [j for j in udrs if j.outcome == "insufficient evidence"],
                    evidence_source=versions.describe())
    if with_details:
        for verdict in verdicts:
            if verdict.promote:
                review.details[verdict.rule.id] = inspect_rule(project, verdict.rule.path,
                                                               verdict.evidence_window)
    return review
