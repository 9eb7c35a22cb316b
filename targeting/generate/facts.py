"""The facts a scenario states, counted month by month as the history is drawn (no second pass
over a 10M-row history) and summarised at the end.

A rule's true precision is the mean of would_be_found over its matches; `since_created` counts
only arrivals from its created date (the policy's prospective evidence). Its naive hit rate is
discrepant / examined over the exams credited to it; its observed hit rate counts every exam of
its matches since created, whoever selected them (what a backtest sees).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from targeting.generate.selection import ORDER, Plan
from targeting.generate.world import Seen
from targeting.rules.model import Rule

DIGITS = 6


@dataclass
class RuleCount:
    """Running counts for one rule."""

    months: int
    matches: int = 0
    found: int = 0
    since: int = 0
    since_found: int = 0
    examined: int = 0
    discrepant: int = 0
    own: int = 0
    own_found: int = 0
    own_expected: float = 0.0
    monthly: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.monthly = np.zeros((self.months, 2), dtype=np.int64)   # matches, found


@dataclass
class MethodCount:
    """Running counts for one selection method."""

    exams: int = 0
    finds: int = 0
    expected_exams: float = 0.0
    expected_finds: float = 0.0
    wanted: float = 0.0         # rationed stages: sum of the selectors' p before capacity...
    granted: float = 0.0        # ...and after


class Tally:
    """Everything the facts need, added one month part at a time."""

    def __init__(self, rules: Sequence[Rule], months: int):
        self.rules = {r.id: RuleCount(months) for r in rules}
        self.created = {r.id: r.created for r in rules}
        self.population = dict.fromkeys(
            ("shipments", "violating", "found", "examined", "exams"), 0)
        self.p_sum = self.p_var = 0.0
        self.methods = {m: MethodCount() for m in ORDER}
        self.finds_by_mode: dict[str, int] = {}
        self.finds_cn_hk = 0
        self.patterns: dict[str, list[int]] = {}
        self.dispositions: dict[str, dict[str, int]] = {}
        self.referrals = 0

    def add(self, seen: Seen, chosen: Plan) -> None:
        """Count one month part."""
        found, examined = seen.truth.found, seen.method != ""
        pop = self.population
        pop["shipments"] += len(found)
        pop["violating"] += int(seen.truth.violating.sum())
        pop["found"] += int(found.sum())
        pop["examined"] += int(examined.sum())
        pop["exams"] += len(seen.exams)
        self.p_sum += float(chosen.p.sum())
        self.p_var += float((chosen.p * (1 - chosen.p)).sum())
        self._methods(seen, chosen)
        self._finds(seen.manifest, examined & found)
        self._patterns(seen)
        self._rules(seen, examined)
        for rule_id, value in chosen.expected.items():
            self.rules[rule_id].own_expected += value
        self._recorded(seen)

    def _methods(self, seen: Seen, chosen: Plan) -> None:
        found = seen.truth.found
        for name, count in self.methods.items():
            credited = seen.method == name
            count.exams += int(credited.sum())
            count.finds += int((credited & found).sum())
            count.expected_exams += float(chosen.credit[name].sum())
            count.expected_finds += float(chosen.credit[name][found].sum())
            wanted, granted = chosen.demand.get(name, (0.0, 0.0))
            count.wanted, count.granted = count.wanted + wanted, count.granted + granted

    def _finds(self, manifest: pl.DataFrame, finds: np.ndarray) -> None:
        rows = manifest.filter(pl.Series(finds))
        for mode, n in rows["mode"].value_counts().iter_rows():
            self.finds_by_mode[mode] = self.finds_by_mode.get(mode, 0) + n
        self.finds_cn_hk += int(rows["country_of_origin"].is_in(["CN", "HK"]).sum())

    def _patterns(self, seen: Seen) -> None:
        frame = pl.DataFrame({"label": pl.Series(seen.truth.label.tolist(), dtype=pl.String),
                              "v": seen.truth.violating, "f": seen.truth.found})
        sums = frame.group_by("label").agg(pl.len(), pl.col("v").sum(), pl.col("f").sum())
        for label, n, v, f in sums.iter_rows():
            counts = self.patterns.setdefault(label or "(none)", [0, 0, 0])
            counts[0], counts[1], counts[2] = counts[0] + n, counts[1] + v, counts[2] + f

    def _rules(self, seen: Seen, examined: np.ndarray) -> None:
        arrival = seen.manifest["arrival_date"].to_numpy()
        found = seen.truth.found
        for rule_id, matches in seen.matches.items():
            count, rows = self.rules[rule_id], np.flatnonzero(matches)
            created = self.created[rule_id]
            since = rows if created is None else rows[arrival[rows] >= np.datetime64(created)]
            hit = int(found[rows].sum())
            count.matches, count.found = count.matches + len(rows), count.found + hit
            count.monthly[seen.month.index] += (len(rows), hit)
            count.since += len(since)
            count.since_found += int(found[since].sum())
            count.examined += int(examined[since].sum())
            count.discrepant += int((examined[since] & found[since]).sum())
            own = rows[seen.selector_id[rows] == rule_id]
            count.own, count.own_found = count.own + len(own), count.own_found + int(found[own].sum())

    def _recorded(self, seen: Seen) -> None:
        exams = seen.exams.filter(pl.col("result") == "discrepant").join(
            seen.manifest.select("shipment_id", "port_code"), on="shipment_id")
        for port, disposition, n in exams.group_by("port_code", "disposition").len().iter_rows():
            ports = self.dispositions.setdefault(port, {})
            ports[disposition or "(none)"] = ports.get(disposition or "(none)", 0) + n
        self.referrals += int(seen.exams["referred_to_ice"].sum())


def rate(k: float, n: float) -> float | None:
    """k / n rounded for the facts, None when n is 0."""
    return round(k / n, DIGITS) if n else None


def summarise(tally: Tally, rules: Sequence[Rule], months: list[dt.date]) -> dict[str, Any]:
    """The facts every scenario states: population, bar, selection, patterns and rules."""
    pop = tally.population
    population = rate(pop["found"], pop["shipments"]) or 0.0
    return {
        "population": {
            "shipments": pop["shipments"], "violating": pop["violating"],
            "would_be_found": pop["found"], "violating_rate": rate(pop["violating"], pop["shipments"]),
            "rate": population, "examined": pop["examined"], "exams": pop["exams"],
            "exam_rate": rate(pop["examined"], pop["shipments"]),
            "mean_selection_probability": rate(tally.p_sum, pop["shipments"]),
            "selection_probability_sd": round(float(np.sqrt(tally.p_var)) / max(1, pop["shipments"]),
                                              DIGITS),
        },
        "bar": {"rate": round(2 * population, DIGITS),
                "definition": "2 x the population rate of would_be_found"},
        "selection": _selection(tally),
        "finds": _finds(tally),
        "patterns": [{"name": name, "shipments": n, "violating": v, "would_be_found": f,
                      "precision": rate(f, n), "ratio": _ratio(rate(f, n), population)}
                     for name, (n, v, f) in sorted(tally.patterns.items())],
        "rules": [_rule(r, tally.rules[r.id], population, months) for r in rules],
        "dispositions": {p: dict(sorted(d.items())) for p, d in sorted(tally.dispositions.items())},
        "referrals": tally.referrals,
    }


def _ratio(value: float | None, population: float) -> float | None:
    return round(value / population, 4) if value is not None and population else None


def _selection(tally: Tally) -> dict[str, Any]:
    exams = sum(c.exams for c in tally.methods.values())
    finds = sum(c.finds for c in tally.methods.values())
    expected = sum(c.expected_finds for c in tally.methods.values())
    return {m: {"exams": c.exams, "finds": c.finds, "hit_rate": rate(c.finds, c.exams),
                "share_of_exams": rate(c.exams, exams), "share_of_finds": rate(c.finds, finds),
                "expected_exams": round(c.expected_exams, 3),
                "expected_share_of_finds": rate(c.expected_finds, expected),
                "cut_by_capacity": rate(c.wanted - c.granted, c.wanted)}
            for m, c in tally.methods.items()}


def _finds(tally: Tally) -> dict[str, Any]:
    total = sum(tally.finds_by_mode.values())
    return {"total": total,
            "by_mode": {m: rate(n, total) for m, n in sorted(tally.finds_by_mode.items())},
            "cn_hk_share": rate(tally.finds_cn_hk, total)}


def _rule(rule: Rule, count: RuleCount, population: float,
          months: list[dt.date]) -> dict[str, Any]:
    return {
        "id": rule.id, "kind": rule.kind, "port": rule.port, "status": rule.status,
        "created": rule.created.isoformat() if rule.created else None,
        "matches": count.matches, "precision": rate(count.found, count.matches),
        "matches_since_created": count.since,
        "precision_since_created": rate(count.since_found, count.since),
        "ratio_since_created": _ratio(rate(count.since_found, count.since), population),
        "examined_since_created": count.examined, "discrepant_since_created": count.discrepant,
        "observed_hit_rate": rate(count.discrepant, count.examined),
        "own_exams": count.own, "own_discrepant": count.own_found,
        "own_expected_exams": round(count.own_expected, 3),
        "naive_hit_rate": rate(count.own_found, count.own),
        "monthly": [{"month": m.isoformat()[:7], "matches": int(a), "would_be_found": int(b)}
                    for m, (a, b) in zip(months, count.monthly)],
    }
