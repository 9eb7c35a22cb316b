"""Walk the history forward: at each cut-off, the promotions and retirements the policy would
have made on the data up to that day, and what each delivered afterwards (docs/policy.md,
"Replay").

At a cut-off c the decisions are those of `targeting candidates --until c`: the same window
(`project_window`), `decide` and `retirements`. A decision is reported once, at the first
cut-off that makes it (`made_at` lists every cut-off that does); what it delivered is its
rule's estimate over every arrival after that first cut-off to the end of the data, from the
same engine and the same estimate the policy judges by.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from targeting.backtest.run import backtest, project_window
from targeting.backtest.window import DateLike, Window, as_date
from targeting.data.recording import late_exams
from targeting.decide.policy import (
    Policy,
    Verdict,
    decide,
    effectiveness_threshold,
    load_policy,
    population_rate,
)
from targeting.decide.projection import national_projection
from targeting.decide.retirement import Retirement, retirements
from targeting.errors import TargetingError
from targeting.project import Project
from targeting.rules.model import Rule

PROMOTE, RETIRE = "promote", "retire"
_EVERY = re.compile(r"^([1-9][0-9]*)([md])$")
_DAY = dt.timedelta(days=1)
# The scoreboard columns a realised estimate keeps.
_REALISED = ("est_hit_rate", "est_hit_rate_low", "est_hit_rate_high", "est_examined",
             "est_discrepant", "est_method")


class ReplayError(TargetingError):
    """A replay that cannot run: an --every that is not a period, or data with no arrivals."""


@dataclass(frozen=True)
class Step:
    """The time between cut-offs: `count` months ("m") or days ("d")."""

    count: int
    unit: str

    def nth(self, first: dt.date, k: int) -> dt.date:
        """The k-th cut-off after `first`, counted from `first` (so months never drift)."""
        if self.unit == "d":
            return first + dt.timedelta(days=k * self.count)
        return months_later(first, k * self.count)

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def parse_every(text: str) -> Step:
    """'1m', '3m' or '14d' as a Step; ReplayError otherwise."""
    match = _EVERY.match(text.strip())
    if not match:
        raise ReplayError(f"{text!r} is not a period; write a whole number of months or days "
                          "followed by m or d, such as 1m, 3m or 14d")
    return Step(int(match.group(1)), match.group(2))


def months_later(day: dt.date, months: int) -> dt.date:
    """The same day `months` later; a month's last day stays a last day (2025-01-31,
    2025-02-28, 2025-03-31), and a day a shorter month lacks becomes its last."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    return dt.date(year, month + 1, last if month_end else min(day.day, last))


def cutoffs(first: dt.date, last: dt.date, step: Step) -> list[dt.date]:
    """`first`, each step after it before `last`, and `last` itself (today's review)."""
    days: list[dt.date] = []
    while (day := step.nth(first, len(days))) < last:
        days.append(day)
    return [*days, last]


def first_cutoff(data_first: dt.date, policy: Policy) -> dt.date:
    """The default first cut-off: the last day of the data's first `recent_months` months, so
    the first review has a recent period's worth of evidence."""
    return months_later(data_first, policy.recent_months) - _DAY


@dataclass
class Decision:
    """A promotion or retirement the policy would have made, first at `cutoff`.

    `rule` is the rule as it would have run (a promotion at national scope: the query's national
    projection; `scope` is the verdict's, "as written" for a retirement). `promised*` is the
    estimate the decision was made on and `promised_bar` the line it was judged against;
    `realised` is `rule`'s estimate over `after` (the arrivals after `cutoff`; None at the
    data's last day) and `bar` the same line over `after`: the effectiveness bar for a
    promotion, the retirement limit for a retirement."""

    cutoff: dt.date
    action: str
    rule: Rule
    scope: str
    promised: float | None
    promised_low: float | None
    promised_high: float | None
    promised_bar: float | None
    made_at: list[dt.date] = field(default_factory=list)
    after: Window | None = None
    realised: dict[str, Any] = field(default_factory=dict)
    bar: float | None = None

    @property
    def id(self) -> str:
        return self.rule.id

    def position(self, min_examined: float) -> str:
        """Where the realised interval lies against `bar`: 'above', 'below' or 'straddles';
        'unmeasured' below the policy's evidence floor or with nothing after the cut-off;
        'no bar' for a retirement on superseding alone."""
        low, high = self.realised.get("est_hit_rate_low"), self.realised.get("est_hit_rate_high")
        if self.action == RETIRE and self.promised_bar is None:
            return "no bar"
        if low is None or high is None or self.bar is None \
                or self.realised["est_examined"] < min_examined:
            return "unmeasured"
        return "above" if low >= self.bar else "below" if high < self.bar else "straddles"


POSITIONS = ("above", "below", "straddles", "unmeasured", "no bar")


@dataclass(frozen=True)
class Tally:
    """How one action's decisions held up: how many by each of POSITIONS."""

    action: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def wrong_share(self) -> float | None:
        """Of the decisions whose realised interval lies wholly on one side of the bar, the
        share on the wrong side (below for a promotion, above for a retirement)."""
        decided = self.counts["above"] + self.counts["below"]
        wrong = self.counts["below" if self.action == PROMOTE else "above"]
        return wrong / decided if decided else None


@dataclass
class Replay:
    """Everything `targeting replay` shows."""

    policy: Policy
    history: Window                # the data's arrivals
    step: Step
    cutoffs: list[dt.date]
    decisions: list[Decision]
    late: list[dict[str, Any]]     # per cut-off: arrivals by it examined only after it

    def made_at(self, cutoff: dt.date) -> list[Decision]:
        """The decisions the policy makes at `cutoff`, new or made before."""
        return [d for d in self.decisions if cutoff in d.made_at]

    def tally(self, action: str) -> Tally:
        """How the decisions of `action` (promote or retire) held up."""
        positions = [d.position(self.policy.min_examined) for d in self.decisions
                     if d.action == action]
        return Tally(action, {p: positions.count(p) for p in POSITIONS})


def replay(project: Project, every: str | Step = "1m", since: DateLike | None = None,
           until: DateLike | None = None, policy: Policy | None = None) -> Replay:
    """Run the policy at every cut-off from `since` (default: first_cutoff) to `until` (default:
    the data's last arrival), each decision measured over the rest of the data."""
    policy = policy or load_policy(project.config.promotion, str(project.config.path))
    step = every if isinstance(every, Step) else parse_every(every)
    first, last = project.dataset.arrival_range()
    if first is None or last is None:
        raise ReplayError("the data has no arrivals to replay; check data.manifest in targeting.yaml")
    end = as_date(until, "--until") or last
    start = as_date(since, "--since") or min(first_cutoff(first, policy), end)
    span = Window.resolve(first, last, start, end)
    days = cutoffs(span.since, span.until, step)
    found: dict[tuple[str, str], Decision] = {}
    for cutoff in days:
        new = []
        for decision in decisions_at(project, cutoff, policy):
            known = found.setdefault((decision.id, decision.action), decision)
            known.made_at.append(cutoff)
            if known is decision:
                new.append(decision)
        if cutoff < last:
            realise(project, new, Window(cutoff + _DAY, last), policy)
    return Replay(policy, Window(first, last), step, days, list(found.values()),
                  late_exams(project.dataset.executor, days))


def decisions_at(project: Project, cutoff: dt.date, policy: Policy) -> list[Decision]:
    """What `targeting candidates --until cutoff` proposes: each promotable query, then each
    UDR proposed for retirement."""
    window = project_window(project, until=cutoff)
    made = [_promotion(v, cutoff, policy) for v in decide(project, window, policy) if v.promote]
    return made + [_retirement(r, cutoff, policy) for r in retirements(project, window, policy)]


def _promotion(verdict: Verdict, cutoff: dt.date, policy: Policy) -> Decision:
    m = verdict.metrics
    rule = national_projection(verdict.rule) if verdict.scope == "national" else verdict.rule
    return Decision(cutoff, PROMOTE, rule, verdict.scope, m["est_hit_rate"],
                    m["est_hit_rate_low"], m["est_hit_rate_high"],
                    effectiveness_threshold(policy, m["baseline_hit_rate"]))


def _retirement(judged: Retirement, cutoff: dt.date, policy: Policy) -> Decision:
    """The UDR's estimate over the period its decay test used. A UDR retired only as superseded
    has no bar: redundancy, not precision, retired it, so its realised precision is shown but
    not judged."""
    m = judged.metrics
    q = m.get("decay_q_value")
    decayed = q is not None and q <= policy.fdr
    return Decision(cutoff, RETIRE, judged.rule, "as written",
                    m.get("est_hit_rate"), m.get("est_hit_rate_low"), m.get("est_hit_rate_high"),
                    m["decay_limit"] if decayed else None)


def realise(project: Project, decisions: Sequence[Decision], after: Window,
            policy: Policy) -> None:
    """Fill each decision's estimate over `after`, and its bar there, from one backtest."""
    if not decisions:
        return
    run = backtest(project, [d.rule for d in decisions], after, [], estimate=policy.estimate)
    rows = run.scoreboard_rows()
    population = population_rate(run.baseline)
    run.close()
    for decision, row in zip(decisions, rows, strict=True):
        decision.after = after
        decision.realised = {key: row[key] for key in _REALISED}
        if decision.action == PROMOTE:
            decision.bar = effectiveness_threshold(policy, population)
        elif decision.promised_bar is not None:
            decision.bar = policy.retire_factor * (population or 0.0)
