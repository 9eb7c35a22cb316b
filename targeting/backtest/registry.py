"""Every per-rule metric, defined once: its name (the JSON key and column), its kind, a short
label for tables and its definition (docs/metrics.md gives the worked detail). JSON and CSV
column order, table headers and formats, the gate's comparisons and the evidence a promotion
stores all read this table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from targeting.units import money, num, pct

KINDS = ("text", "count", "number", "rate", "ratio", "per_day", "money")


@dataclass(frozen=True)
class Metric:
    """One metric of a rule."""

    name: str
    kind: str  # one of KINDS: how it is typed and written
    label: str
    definition: str

    def show(self, value: Any) -> str:
        """The value written for a person (12.3%, 1,234, 2.41x, $5,000)."""
        if self.kind == "rate":
            return pct(value)
        if self.kind == "ratio":
            return num(value, 2)
        if self.kind == "per_day":
            return num(value, 1)
        if self.kind == "money":
            return money(value)
        if self.kind == "count":
            return num(value)
        if self.kind == "number":
            return num(value, 1)
        return "–" if value is None else str(value)


def _m(name: str, kind: str, label: str, definition: str) -> Metric:
    return Metric(name, kind, label, definition)


METRICS: tuple[Metric, ...] = (
    _m("id", "text", "id", "the rule's id"),
    _m("kind", "text", "kind", "query or udr"),
    _m("port", "text", "port", "the rule's home port (queries)"),
    _m("status", "text", "status", "draft, active, promoted or retired"),
    _m("targeted", "count", "targeted", "shipments in the window the rule matches"),
    _m("examined", "count", "exam'd", "targeted shipments with at least one exam"),
    _m("discrepant", "count", "disc.", "examined shipments with a discrepant exam"),
    _m("hit_rate", "rate", "hit rate", "discrepant / examined"),
    _m("hit_rate_low", "rate", "low", "lower end of the 95% Wilson interval of the hit rate"),
    _m("hit_rate_high", "rate", "high", "upper end of the 95% Wilson interval of the hit rate"),
    _m("lift", "ratio", "lift", "hit rate / the window's baseline hit rate"),
    _m("lift_within_ports", "ratio", "lift@ports",
       "hit rate / the rate its examined shipments' ports find overall"),
    _m("random_examined", "count", "random exam'd", "targeted shipments with a random exam"),
    _m("random_discrepant", "count", "random disc.",
       "targeted shipments with a discrepant random exam"),
    _m("random_hit_rate", "rate", "random hit rate", "random_discrepant / random_examined"),
    _m("self_selected_share", "rate", "self-selected",
       "share of its examined shipments this rule itself selected (selector_id)"),
    _m("exam_rate", "rate", "exam rate", "examined / targeted"),
    _m("flags_per_day", "per_day", "flags/day", "targeted / days in the window"),
    _m("ports_targeted", "count", "ports", "distinct ports among targeted shipments"),
    _m("ports_with_hits", "count", "ports w/ hits", "distinct ports among discrepant shipments"),
    _m("months_with_hits", "count", "months w/ hits",
       "distinct arrival months among discrepant shipments"),
    _m("unique_discrepant", "count", "unique",
       "discrepant shipments no other active UDR matches"),
    _m("max_overlap_id", "text", "overlaps most", "the active UDR with the highest Jaccard index"),
    _m("max_overlap_jaccard", "rate", "overlap", "that UDR's Jaccard index |A∩B| / |A∪B|"),
    _m("seizures", "count", "seizures", "discrepant shipments whose outcome is a seizure"),
    _m("abandonments", "count", "abandonments", "discrepant shipments voluntarily abandoned"),
    _m("refused_entries", "count", "refused", "discrepant shipments refused entry"),
    _m("other_outcomes", "count", "other", "discrepant shipments with another outcome"),
    _m("msrp_total", "money", "MSRP", "sum of the MSRP of its discrepant exams"),
    _m("referrals", "count", "referrals", "discrepant shipments referred to ICE"),
    _m("own_examined", "count", "own exam'd", "examined shipments this rule selected itself"),
    _m("own_discrepant", "count", "own disc.", "of those, discrepant"),
    _m("other_examined", "count", "other exam'd", "examined shipments other selectors chose"),
    _m("other_discrepant", "count", "other disc.", "of those, discrepant"),
    _m("random_hit_rate_low", "rate", "random low", "lower end of the random hit rate's interval"),
    _m("random_hit_rate_high", "rate", "random high",
       "upper end of the random hit rate's interval"),
    _m("est_hit_rate", "rate", "est. rate",
       "estimated precision over everything it matches (backtest/estimate.py)"),
    _m("est_hit_rate_low", "rate", "est. low", "lower end of the estimate's 95% interval"),
    _m("est_hit_rate_high", "rate", "est. high", "upper end of the estimate's 95% interval"),
    _m("est_method", "text", "method", "ipw, random, census, observed or none"),
    _m("est_examined", "number", "eff. n", "the estimate's effective sample size"),
    _m("est_discrepant", "number", "est. disc.", "discrepant exams the estimate rests on"),
    _m("est_n", "number", "interval n",
       "the sample size the estimate's interval and tests are computed at"),
    _m("est_note", "text", "note", "why this method, or why no estimate"),
    _m("est_lift", "ratio", "est. lift", "estimated rate / the population's estimated rate"),
    _m("top_selector_id", "text", "chosen by", "the selector that chose most of its exams"),
    _m("top_selector_share", "rate", "share", "the share of its examined shipments it chose"),
    _m("referrals_accepted", "count", "accepted", "referred discrepant shipments accepted"),
    _m("referrals_with_outcome", "count", "outcome",
       "referred discrepant shipments with a recorded outcome"),
)
# Columns `evaluate` adds over the rules evaluated together (backtest/shrinkage.py): not a
# property of one rule alone, so not part of a backtest's row.
RANKING: tuple[Metric, ...] = (
    _m("shrunk_hit_rate", "rate", "shrunk",
       "empirical-Bayes estimate: est_hit_rate pulled towards the rules' mean by as much as its "
       "evidence is thin"),
    _m("shrunk_lift", "ratio", "shrunk lift", "shrunk_hit_rate / the population's estimated rate"),
)
BY_NAME = {m.name: m for m in (*METRICS, *RANKING)}
SCOREBOARD_COLUMNS = [m.name for m in METRICS]


def metric(name: str) -> Metric:
    """The metric called `name`; KeyError names the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no metric {name!r}; known: {', '.join(BY_NAME)}") from None


def show(name: str, value: Any) -> str:
    """`value` of metric `name` written for a person."""
    return metric(name).show(value)
