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
    prefix: str = "To pass"  # how renderers introduce `change`

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "sentence": self.sentence,
                "change": self.change}


Context = dict[str, Any]  # the verdict's metrics plus the policy's settings


def explain_verdict(verdict: Verdict, policy: Any = None) -> list[Explained]:
    """Every criterion of the verdict in words, in the policy's order, then the transfer test
    that decides whether it would run nationally or at its port."""
    context: Context = {**(getattr(policy, "values", None) or {}), **verdict.metrics}
    transfer = explain(verdict.transfer, context)
    if not transfer.passed:
        transfer = Explained(transfer.name, False, transfer.sentence, transfer.change,
                             "To run nationally")
    return [*(explain(c, context) for c in verdict.criteria), transfer]


def explain(c: Criterion, context: Context) -> Explained:
    """One criterion in words (a generic sentence for a name not known here)."""
    words = _SENTENCES.get(c.name, _generic)
    sentence, change = words(c, context)
    return Explained(c.name, c.passed, sentence, None if c.passed else change)


def summary(verdict: Verdict) -> str:
    """'PROMOTE AS A PORT UDR: meets every criterion' or 'not yet: fails 2 of 6 criteria
    (evidence, workload)'."""
    if verdict.promote:
        return f"{verdict.outcome().upper()}: meets every criterion of the policy"
    failing = verdict.failing
    return (f"not yet: fails {len(failing)} of {plural(len(verdict.criteria), 'criterion', 'criteria')}"
            f" ({', '.join(c.name for c in failing)})")


def _evidence(c: Criterion, ctx: Context) -> tuple[str, str]:
    if ctx.get("evidence_source") == "unregistered":
        return (f"Evidence: {c.note}.", "commit the query on the base branch (or run "
                "`targeting register`, as the evidence source requires), then examined "
                "shipments after that day count")
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
    bar, rate = c.threshold, ctx.get("est_hit_rate")
    base, factor = ctx.get("baseline_hit_rate"), ctx.get("lift_factor")
    floor = ctx.get("min_hit_rate")
    how = (f" ({num(factor, 1)}× the population's rate of {pct(base, 2)}"
           f"{f', and at least {pct(floor)}' if floor is not None else ''})"
           if factor is not None and base is not None else "")
    low, high = ctx.get("est_hit_rate_low"), ctx.get("est_hit_rate_high")
    interval = f" [95% CI {pct(low, 2)}–{pct(high, 2)}]" if low is not None else ""
    sentence = (f"Effectiveness: estimated precision {pct(rate)}{interval} against a bar of "
                f"{pct(bar, 2)}{how}; {_error_control(c, ctx)}.")
    examined = ctx.get("est_examined") or 0
    total = exams_for_lower_bound(rate, examined, bar)
    if rate is None:
        change = "an estimate first: nothing it matches has been examined"
    elif rate <= bar:
        change = (f"a higher hit rate: its estimate {pct(rate)} is not above the bar "
                  f"{pct(bar, 2)}, so more exams at this rate would not pass")
    elif total is None:
        change = (f"a higher hit rate: its estimate {pct(rate)} is so close to the bar "
                  f"{pct(bar, 2)} that no realistic number of exams would show it above")
    else:
        change = (f"more examined shipments at its estimated rate of {pct(rate)}: about "
                  f"{max(total - round(examined), 1):,} more would lift the 95% lower bound to "
                  "the bar (one-sided p 0.025), which passes in most reviews")
    return sentence, change


def _error_control(c: Criterion, ctx: Context) -> str:
    """The test in words: its p-value, and the q-value the review gave it (or, judged alone,
    whether it passes whatever the other queries show)."""
    q, fdr = ctx.get("q_value"), ctx.get("fdr")
    shown = f"one-sided p {_p(c.value)}"
    if q is not None:
        return (f"{shown}, q {_p(q)} after Benjamini-Hochberg over the review, against a false "
                f"discovery rate of {pct(fdr, 0)}")
    return f"{shown}; {c.note.split('; ', 1)[-1]}" if "; " in c.note else shown


def _p(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "= –"
    return "< 0.001" if value < 0.001 else f"= {value:.3g}"


def _transfer(c: Criterion, ctx: Context) -> tuple[str, str]:
    if c.passed and c.value is None:
        return "Transfer: it has no home port, so it is national already.", ""
    floor = ctx.get("min_examined") or 0
    if c.value is None:
        examined = ctx.get("away_examined") or 0
        return (f"Transfer: outside its port its national projection has an effective sample of "
                f"{_count(examined)} examined shipments, below the evidence floor of "
                f"{_count(floor)}: not enough to show it works elsewhere, so it would run as a "
                "UDR at its port.",
                f"about {plural(max(round(floor - examined), 1), 'more examined shipment')} "
                "outside its port that it matches")
    low, ports = c.value["away_hit_rate_low"], c.value["ports_with_hits"]
    bar, need = c.threshold["away_hit_rate_low"], c.threshold["ports_with_hits"]
    scope = "it can run nationally" if c.passed else "it would run as a UDR at its port"
    sentence = (f"Transfer: outside its port its national projection's estimated precision is at "
                f"least {pct(low, 2)} (95% lower bound) against the bar {pct(bar, 2)}, with "
                f"violations found at {plural(ports, 'port')} ({_count(need)} needed): {scope}.")
    parts = []
    if low < bar:
        parts.append(f"a lower bound outside its port of at least {pct(bar, 2)}")
    if ports < need:
        parts.append(f"discrepant finds at {plural(need - ports, 'more port')}")
    return sentence, "; and ".join(parts)


def _persistence(c: Criterion, ctx: Context) -> tuple[str, str]:
    months, rate = c.value["months_with_hits"], c.value["recent_hit_rate"]
    p, level = c.value["recent_p_below"], c.threshold["recent_p_below"]
    need_months, bar = c.threshold["months_with_hits"], c.threshold["recent_hit_rate"]
    recent = ctx.get("recent_months")
    period = f"the last {plural(recent, 'month')}" if recent else "its recent months"
    shown = "shows it below" if p < level else "does not show it below"
    sentence = (f"Persistence: violations found in {plural(months, 'month')} "
                f"({plural(need_months, 'month')} with hits needed); over {period} its estimated "
                f"precision is {pct(rate)}, which {shown} the bar of {pct(bar, 2)} (one-sided "
                f"p {_p(p)}, below {num(level, 2)} fails).")
    parts = []
    if months < need_months:
        parts.append(f"hits in {plural(need_months - months, 'more month')}")
    if p < level:
        parts.append(f"recent exams at a rate nearer the bar of {pct(bar, 2)}: it has decayed")
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
    who = ("its national projection" if ctx.get("workload_scope") == "national"
           else "at its port it")
    sentence = (f"Workload: {who} would flag {num(c.value, 1)} shipments a day; "
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
    "evidence": _evidence, "effectiveness": _effectiveness, "transfer": _transfer,
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
        f"Effectiveness: the estimated precision shown above a bar of {num(v['lift_factor'], 1)}× "
        f"the population's rate (and at least {pct(v['min_hit_rate'])}) by a one-sided test, "
        f"with Benjamini-Hochberg over every query in the review at a false discovery rate of "
        f"{pct(v['fdr'], 0)}.",
        f"Persistence: {plural(v['min_months'], 'month')} with hits, and the last "
        f"{plural(v['recent_months'], 'month')} do not show it below the bar (one-sided 5%).",
        f"Novelty: {plural(v['min_unique'], 'discrepant shipment')} no active UDR catches, and "
        f"at most {pct(v['max_overlap'], 0)} overlap (Jaccard) with any active UDR.",
        f"Workload: at most {num(v['max_flags_per_day'], 0)} flagged shipments a day, at the scope "
        "it would run.",
        "Examples: at least one tests.match and one tests.no_match example.",
        f"Scope: national when, outside its home port, its national projection has the evidence "
        f"floor, a lower bound at the bar and violations at {plural(v['min_ports'], 'port')}; "
        "otherwise a UDR at its port.",
        f"Retirement: a UDR retires when a one-sided test shows its estimated precision below "
        f"{num(v['retire_factor'], 1)}× the population's rate over the last "
        f"{plural(v['recent_months'], 'month')} (over the last {2 * v['recent_months']} months when "
        f"its exams are too few for the shorter period), with Benjamini-Hochberg over the UDRs at "
        f"{pct(v['fdr'], 0)}; or when another UDR matches {pct(v['supersede_share'], 0)} of its "
        f"targets. A UDR with too "
        "little evidence to judge is listed as such.",
    ]
