"""Each criterion of a verdict as a plain sentence with units and the number it needed, and,
when it fails, what would change it ("about 27 more examined shipments").

Keyed by criterion name; a criterion this module does not know (the policy grows) gets a
generic sentence from its value, threshold and note, so no verdict is ever shown as raw data.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from targeting.decide.explain import exams_for_lower_bound, more_exams_for_discrepant
from targeting.decide.policy import Criterion, Verdict
from targeting.units import num, pct, plural


@dataclass(frozen=True)
class Explained:
    """One criterion in words: the sentence, and (failing only) what would change it."""

    name: str
    passed: bool
    sentence: str
    change: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "sentence": self.sentence,
                "change": self.change}


Context = dict[str, Any]  # the verdict's metrics plus the policy's settings


def explain_verdict(verdict: Verdict, policy: Any = None) -> list[Explained]:
    """Every criterion of the verdict in words, in the policy's order."""
    context: Context = {**(getattr(policy, "values", None) or {}), **verdict.metrics}
    return [explain(c, context) for c in verdict.criteria]


def explain(c: Criterion, context: Context) -> Explained:
    """One criterion in words (a generic sentence for a name not known here)."""
    words = _SENTENCES.get(c.name, _generic)
    sentence, change = words(c, context)
    return Explained(c.name, c.passed, sentence, None if c.passed else change)


def summary(verdict: Verdict) -> str:
    """'PROMOTE: meets every criterion' or 'not yet: fails 2 of 7 criteria (breadth, workload)'."""
    if verdict.promote:
        return "PROMOTE: meets every criterion of the policy"
    failing = verdict.failing
    return (f"not yet: fails {len(failing)} of {plural(len(verdict.criteria), 'criterion', 'criteria')}"
            f" ({', '.join(c.name for c in failing)})")


def _evidence(c: Criterion, ctx: Context) -> tuple[str, str]:
    have, need = c.value, c.threshold
    examined, discrepant = have["examined"], have["discrepant"]
    basis = _basis(ctx)
    if c.passed:
        sentence = (f"Evidence: examined {_count(examined)} shipments ({_count(need['examined'])} "
                    f"needed) and found {_count(discrepant)} discrepant "
                    f"({_count(need['discrepant'])} needed){basis}.")
    else:
        sentence = (f"Evidence: examined {_count(examined)} of the {_count(need['examined'])} "
                    f"shipments needed and found {_count(discrepant)} of the "
                    f"{_count(need['discrepant'])} discrepant needed{basis}.")
    parts = []
    if examined < need["examined"]:
        parts.append(f"{_count(need['examined'] - examined)} more examined shipments")
    if discrepant < need["discrepant"]:
        rate = ctx.get("est_hit_rate")
        more = more_exams_for_discrepant(rate, discrepant, need["discrepant"])
        short = _count(need["discrepant"] - discrepant)
        parts.append(f"about {more:,} more examined shipments at its estimated rate of {pct(rate)} "
                     f"to find {short} more discrepant" if more is not None
                     else f"{short} more discrepant finds (none found yet, so no rate to "
                          "project from)")
    return sentence, "; and ".join(parts) or "more evidence"


def _effectiveness(c: Criterion, ctx: Context) -> tuple[str, str]:
    low, bar, rate = c.value, c.threshold, ctx.get("est_hit_rate")
    base, factor = ctx.get("baseline_hit_rate"), ctx.get("lift_factor")
    floor = ctx.get("min_hit_rate")
    how = (f" ({num(factor, 1)}× the population's rate of {pct(base, 2)}"
           f"{f', and at least {pct(floor)}' if floor is not None else ''})"
           if factor is not None and base is not None else "")
    sentence = (f"Effectiveness: estimated precision {pct(rate)}, at least {pct(low, 2)} "
                f"(95% lower bound), against a bar of {pct(bar, 2)}{how}.")
    examined = ctx.get("est_examined") or 0
    total = exams_for_lower_bound(rate, examined, bar)
    if rate is None:
        change = "an estimate first: nothing it matches has been examined"
    elif rate <= bar:
        change = (f"a higher hit rate: its estimate {pct(rate)} is not above the bar "
                  f"{pct(bar, 2)}, so more exams at this rate would not pass")
    elif total is None:
        change = (f"a higher hit rate: its estimate {pct(rate)} is so close to the bar "
                  f"{pct(bar, 2)} that no realistic number of exams would lift the lower bound "
                  "over it")
    else:
        change = (f"about {max(total - round(examined), 1):,} more examined shipments at its "
                  f"estimated rate of {pct(rate)}, which would lift the lower bound to the bar")
    return sentence, change


def _breadth(c: Criterion, ctx: Context) -> tuple[str, str]:
    sentence = (f"Breadth: its national projection (the query without its port conditions) "
                f"finds violations at {plural(c.value, 'port')}; "
                f"{plural(c.threshold, 'port')} needed.")
    return sentence, f"discrepant finds at {plural(c.threshold - c.value, 'more port')}"


def _persistence(c: Criterion, ctx: Context) -> tuple[str, str]:
    months, low = c.value["months_with_hits"], c.value["recent_hit_rate_low"]
    need_months, bar = c.threshold["months_with_hits"], c.threshold["recent_hit_rate_low"]
    recent = ctx.get("recent_months")
    period = f"the last {plural(recent, 'month')}" if recent else "its recent months"
    sentence = (f"Persistence: violations found in {plural(months, 'month')} "
                f"({plural(need_months, 'month')} with hits needed); over {period} its estimated "
                f"precision is at least {pct(low, 2)} against a bar of {pct(bar, 2)}.")
    parts = []
    if months < need_months:
        parts.append(f"hits in {plural(need_months - months, 'more month')}")
    if low < bar:
        parts.append(f"more recent exams at a rate that lifts the recent lower bound to "
                     f"{pct(bar, 2)}")
    return sentence, "; and ".join(parts) or "more recent evidence"


def _novelty(c: Criterion, ctx: Context) -> tuple[str, str]:
    unique, overlap = c.value["unique_discrepant"], c.value["max_overlap_jaccard"]
    need, most = c.threshold["unique_discrepant"], c.threshold["max_overlap_jaccard"]
    other = ctx.get("max_overlap_id")
    with_whom = f" with {other}" if other else ""
    sentence = (f"Novelty: {plural(unique, 'discrepant shipment')} no active UDR catches "
                f"({_count(need)} needed); its largest overlap{with_whom} is {pct(overlap)} "
                f"(Jaccard: shared targets over either's targets), at most {pct(most, 0)} allowed.")
    parts = []
    if unique < need:
        parts.append(f"{plural(need - unique, 'more discrepant shipment')} that no UDR catches")
    if overlap > most:
        parts.append(f"sharing fewer targets{with_whom} (overlap down to {pct(most, 0)})")
    return sentence, "; and ".join(parts) or "more findings of its own"


def _workload(c: Criterion, ctx: Context) -> tuple[str, str]:
    sentence = (f"Workload: its national projection would flag {num(c.value, 1)} shipments a day; "
                f"at most {num(c.threshold, 0)} a day allowed.")
    return sentence, (f"narrowing it to flag {num(c.value - c.threshold, 1)} fewer shipments "
                      "a day")


def _examples(c: Criterion, ctx: Context) -> tuple[str, str]:
    match, no_match = c.value["match"], c.value["no_match"]
    sentence = (f"Examples: {plural(match, 'match example')} and "
                f"{plural(no_match, 'no_match example')}; at least one of each needed.")
    missing = [key for key, n in (("tests.match", match), ("tests.no_match", no_match)) if n < 1]
    return sentence, "adding " + " and ".join(f"a {key} example" for key in missing)


def _generic(c: Criterion, ctx: Context) -> tuple[str, str]:
    name = c.name.replace("_", " ")
    title = name[:1].upper() + name[1:]
    if c.note:
        return f"{title}: {c.note}.", f"{name} reaching {_words(c.threshold)}"
    return (f"{title}: {_words(c.value)}, against {_words(c.threshold)}.",
            f"{name} reaching {_words(c.threshold)}")


def _words(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{str(k).replace('_', ' ')} {_words(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _basis(ctx: Context) -> str:
    method = ctx.get("est_method")
    return {"ipw": " (an effective sample: exams weighted by their selection probability)",
            "random": " (random exams only)"}.get(str(method), "")


_SENTENCES: dict[str, Callable[[Criterion, Context], tuple[str, str]]] = {
    "evidence": _evidence, "effectiveness": _effectiveness, "breadth": _breadth,
    "persistence": _persistence, "novelty": _novelty, "workload": _workload,
    "examples": _examples,
}


def policy_sentences(policy: Any) -> list[str]:
    """The promotion and retirement policy in words, with its numbers."""
    v = getattr(policy, "values", None) or {}
    if not v:
        return []
    since = "since the query was written" if v.get("prospective") else "in the window"
    return [
        f"Evidence: at least {_count(v['min_examined'])} examined and "
        f"{_count(v['min_discrepant'])} discrepant shipments {since}.",
        f"Effectiveness: the estimated precision's 95% lower bound at least "
        f"{num(v['lift_factor'], 1)}× the population's rate (and at least {pct(v['min_hit_rate'])}).",
        f"Breadth: the national projection finds violations at {plural(v['min_ports'], 'port')} "
        "or more.",
        f"Persistence: {plural(v['min_months'], 'month')} with hits, and still effective over "
        f"the last {plural(v['recent_months'], 'month')}.",
        f"Novelty: {plural(v['min_unique'], 'discrepant shipment')} no active UDR catches, and "
        f"at most {pct(v['max_overlap'], 0)} overlap (Jaccard) with any active UDR.",
        f"Workload: the national projection flags at most {num(v['max_flags_per_day'], 0)} "
        "shipments a day.",
        "Examples: at least one tests.match and one tests.no_match example.",
        f"Retirement: a UDR retires when, over the last {plural(v['recent_months'], 'month')}, "
        f"its precision's upper bound is below {num(v['retire_factor'], 1)}× the population's "
        f"rate; when it found nothing discrepant in {plural(v['retire_after_months'], 'month')}; "
        f"or when another UDR matches {pct(v['supersede_share'], 0)} of its targets.",
    ]
