"""Who gets examined, with the exact probability of it (the propensity an agency would log).

Every selector gives each shipment a probability fixed before any exam is drawn, from what is
known at arrival (the manifest, which rules match, the officer's suspicion score):
- random compliance exams: the port's rate, uniform; never rationed, so every shipment has p > 0;
- tips: min(tip_cap, tip_base x exp(tip_slope x suspicion)); never rationed;
- each live rule: officers examine an average share `take` of its matches, choosing the ones that
  look worst: p = min(1, a x w), w = exp(officer_slope x suspicion), with a chosen so the mean
  of p over its matches is take = min(most, budget x shipments / matches) per month part;
- observation: rate x (enrichment for risky goods) x exp(observation_slope x suspicion) / mean.
Exam capacity is per port per day (a share of the port's expected daily arrivals). In the stated
order (random, tip, UDRs, queries, observation) each of the last three stages is scaled by one
factor per port-day so that the expected exams so far fit the capacity; the factor counts the
stage's selectors as if they never overlapped, so the expectation can only fall short of it.
The logged probability is p = 1 - prod(1 - p_s); then every selector fires independently with its
own p_s and the exam is credited to the first that fired in the stated order. Rationing happens
before the draws (ex ante), so p is exactly the probability that was used.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from targeting.compile.polars_expr import compile_polars
from targeting.rules.model import All, Leaf, Rule

ORDER = ("random", "tip", "udr", "query", "observation")
RATIONED = ("udr", "query", "observation")
OBSERVED_HTS = ("4202", "910", "640", "711", "9004", "3304", "3004")
DAYS = 31   # port-day groups are port x day of month


@dataclass(frozen=True)
class Selection:
    """The selection mechanism's settings (docs/generator.md explains each)."""

    random_rate: float = 0.005
    random_by_port: Mapping[str, float] = field(default_factory=dict)
    capacity: float = 0.035                       # share of a port's expected daily arrivals
    capacity_by_port: Mapping[str, float] = field(default_factory=dict)
    # kind -> (at most this share of a month's shipments, at most this share of the matches)
    budget: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: {"udr": (0.0015, 0.5), "query": (0.0006, 0.8)})
    budget_by_rule: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    officer_slope: float = 0.5
    tip_base: float = 2.0e-5
    tip_slope: float = 2.0
    tip_cap: float = 0.5
    observation_rate: float = 0.003
    observation_enrich: float = 3.0
    observation_slope: float = 0.5

    def random_rates(self, ports: Sequence[str]) -> np.ndarray:
        """The compliance rate of each port in `ports`."""
        return np.array([self.random_by_port.get(p, self.random_rate) for p in ports])

    def capacities(self, ports: Sequence[str]) -> np.ndarray:
        """The capacity share of each port in `ports`."""
        return np.array([self.capacity_by_port.get(p, self.capacity) for p in ports])


@dataclass(frozen=True)
class Selector:
    """A compiled rule: when it selects (from `active_from`; never for drafts) and, for a query
    whose predicate requires its port, that port (only its rows need evaluating)."""

    id: str
    kind: str
    active_from: dt.date | None
    selects: bool
    port: str | None
    expr: pl.Expr


def required_port(rule: Rule) -> str | None:
    """The port a rule's predicate requires at its top level (port_code equal to one value)."""
    children = rule.where.children if isinstance(rule.where, All) else (rule.where,)
    for child in children:
        if isinstance(child, Leaf) and child.field == "port_code" and child.op == "eq":
            return str(child.value)
    return None


def selector(rule: Rule, lists: Mapping[str, frozenset[str]],
             active_from: dt.date | None = None, selects: bool | None = None) -> Selector:
    """A rule compiled for generation; by default it selects from its created date unless draft."""
    return Selector(rule.id, rule.kind, rule.created if active_from is None else active_from,
                    rule.status != "draft" if selects is None else selects,
                    required_port(rule), compile_polars(rule.where, lists))


def match_all(df: pl.DataFrame, sels: Sequence[Selector]) -> list[np.ndarray]:
    """Each selector's matches on any date. A query that requires its port is evaluated on that
    port's rows only: generation runs several times faster than over every row (and, measured,
    even a 10,000-row month costs less CPU split by port than in one pass)."""
    found: dict[int, np.ndarray] = {}
    ports = df["port_code"].to_numpy()
    for port in sorted({s.port or "" for s in sels}):
        group = [i for i, s in enumerate(sels) if (s.port or "") == port]
        rows = np.flatnonzero(ports == port) if port else np.arange(len(df))
        part = df[rows] if port else df
        matched = part.select([sels[i].expr.alias(str(i)) for i in group])
        for i in group:
            full = np.zeros(len(df), dtype=bool)
            full[rows] = matched[str(i)].to_numpy()
            found[i] = full
    return [found[i] for i in range(len(sels))]


def live(sel: Selector, matches: np.ndarray, arrival: np.ndarray) -> np.ndarray:
    """The matches a selector flags: none for a draft, only arrivals from its active date."""
    if not sel.selects:
        return np.zeros(len(matches), dtype=bool)
    if sel.active_from is None:
        return matches
    out: np.ndarray = matches & (arrival >= np.datetime64(sel.active_from))
    return out


@dataclass(frozen=True)
class Draw:
    """One selector's probabilities over the rows it can select."""

    method: str
    selector_id: str | None
    rows: np.ndarray
    probs: np.ndarray


@dataclass(frozen=True)
class Plan:
    """Every selector's probabilities, the logged p, and the chance each method is credited."""

    draws: list[Draw]
    p: np.ndarray
    credit: dict[str, np.ndarray]   # method -> P(the exam is credited to it)
    demand: dict[str, tuple[float, float]]   # rationed method -> (sum of p_s before, after)
    expected: dict[str, float]      # rule id -> expected exams credited to it


@dataclass(frozen=True)
class Arrivals:
    """What selection needs to know of one month part's shipments."""

    port: np.ndarray        # index into the port list
    day: np.ndarray         # day of month, 0-based
    suspicion: np.ndarray
    risky: np.ndarray       # goods officers on a walk-through look at first
    capacity: np.ndarray    # expected exams per day each port can do, for this part


def plan(arrivals: Arrivals, ports: Sequence[str], flagged: Sequence[tuple[Selector, np.ndarray]],
         settings: Selection) -> Plan:
    """The probabilities of every selector, rationed stage by stage to port-day capacity."""
    n = len(arrivals.port)
    group = arrivals.port * DAYS + arrivals.day
    capacity = np.repeat(arrivals.capacity, DAYS)
    everyone = np.arange(n)
    keep = np.ones(n)        # P(no selector so far fires)
    draws: list[Draw] = []
    credit: dict[str, np.ndarray] = {}
    demand: dict[str, tuple[float, float]] = {}
    expected: dict[str, float] = {}
    for method in ORDER:
        stage = _demands(method, arrivals, ports, flagged, settings, everyone)
        if method in RATIONED:
            wanted = sum(float(d.probs.sum()) for d in stage)
            stage = _rationed(stage, keep, group, capacity)
            demand[method] = (wanted, sum(float(d.probs.sum()) for d in stage))
        before = keep.copy()
        for draw in stage:
            if draw.selector_id is not None:   # credited when no earlier selector fired
                expected[draw.selector_id] = float((keep[draw.rows] * draw.probs).sum())
            np.multiply.at(keep, draw.rows, 1.0 - draw.probs)
        draws += stage
        credit[method] = before - keep
    return Plan(draws, 1.0 - keep, credit, demand, expected)


def _demands(method: str, arrivals: Arrivals, ports: Sequence[str],
             flagged: Sequence[tuple[Selector, np.ndarray]], settings: Selection,
             everyone: np.ndarray) -> list[Draw]:
    """A stage's probabilities before capacity."""
    s = arrivals.suspicion
    if method == "random":
        return [Draw(method, None, everyone, settings.random_rates(ports)[arrivals.port])]
    if method == "tip":
        tip = np.minimum(settings.tip_cap, settings.tip_base * np.exp(settings.tip_slope * s))
        return [Draw(method, None, everyone, tip)]
    if method == "observation":
        weight = np.exp(settings.observation_slope * s)
        enrich = np.where(arrivals.risky, settings.observation_enrich, 1.0)
        probs = settings.observation_rate * enrich * weight / weight.mean()
        return [Draw(method, None, everyone, np.minimum(1.0, probs))]
    return [_officer_choice(sel, rows, s, len(s), settings)
            for sel, rows in flagged if sel.kind == method]


def _officer_choice(sel: Selector, flags: np.ndarray, suspicion: np.ndarray, n: int,
                    settings: Selection) -> Draw:
    """Officers examine a share of a rule's flags, the more suspicious ones more often."""
    rows = np.flatnonzero(flags)
    share, most = settings.budget_by_rule.get(sel.id, settings.budget[sel.kind])
    take = min(most, share * n / max(1, len(rows)))
    weight = np.exp(settings.officer_slope * suspicion[rows])
    return Draw(sel.kind, sel.id, rows, np.minimum(1.0, weight * scale_to_mean(weight, take)))


def scale_to_mean(weight: np.ndarray, mean: float) -> float:
    """The a with mean(min(1, a x weight)) = mean, so officers examine exactly the share they
    intend even where the most suspicious flags are certain to be examined (clipped at 1)."""
    if not len(weight) or mean <= 0:
        return 0.0
    ordered = np.sort(weight)[::-1]
    rest = np.cumsum(ordered[::-1])[::-1]              # sum of the weights from k on
    clipped = np.arange(len(ordered))                  # k: how many are clipped at 1
    scale = (len(ordered) * min(mean, 1.0) - clipped) / rest
    fits = scale * ordered <= 1.0 + 1e-12              # the largest unclipped weight stays <= 1
    return float(scale[np.argmax(fits)]) if fits.any() else float(1.0 / ordered[-1])


def _rationed(stage: list[Draw], keep: np.ndarray, group: np.ndarray,
              capacity: np.ndarray) -> list[Draw]:
    """Scale a stage by one factor per port-day so expected exams stay within capacity."""
    if not stage:
        return stage
    used = np.bincount(group, weights=1.0 - keep, minlength=len(capacity))
    extra = np.zeros(len(capacity))
    for draw in stage:
        extra += np.bincount(group[draw.rows], weights=keep[draw.rows] * draw.probs,
                             minlength=len(capacity))
    room = np.maximum(0.0, capacity - used)
    factor = np.where(extra > room, room / np.where(extra > 0, extra, 1.0), 1.0)
    return [Draw(d.method, d.selector_id, d.rows, d.probs * factor[group[d.rows]]) for d in stage]


def draw_exams(rng: np.random.Generator, chosen: Plan, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fire every selector with its own probability; credit the first that fired, in order
    ('' = not examined)."""
    method = np.full(n, "", dtype=object)
    selector_id = np.full(n, None, dtype=object)
    for draw in chosen.draws:
        fired = draw.rows[rng.random(len(draw.rows)) < draw.probs]
        new = fired[method[fired] == ""]
        method[new], selector_id[new] = draw.method, draw.selector_id
    return method, selector_id
