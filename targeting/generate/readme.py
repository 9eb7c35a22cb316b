"""A scenario project's README.md: the facts of scenario.json as text (rendering only)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from targeting.generate.world import Scenario

INTRO = """\
# Scenario `{scenario}`: {summary}

Written by

    targeting fixtures generate --scenario {scenario} --shipments {shipments} --months {months} \\
        --seed {seed} --start {start} --out DIR

{shipments:,} shipments over {months} months from {start}. `targeting validate --config
DIR/targeting.yaml` checks the rules; `targeting evaluate --config DIR/targeting.yaml` measures
them. `truth.parquet` holds the hidden answer (`violating`, `would_be_found`, `pattern`,
`p_violation`, `suspicion`, `selection_probability` for every shipment); the tool never reads
it. Every number below is computed from the files in this folder (`scenario.json` has them all,
machine-readable); the mechanism is described in docs/generator.md of the targeting repository.

## What is planted

{story}
"""


def render_readme(scenario: Scenario, facts: Mapping[str, Any]) -> str:
    """The README text for a written scenario."""
    intro = INTRO.format(scenario=scenario.name, summary=scenario.summary, story=scenario.story,
                         **{k: facts[k] for k in ("shipments", "months", "seed", "start")})
    parts = [intro,
             _population(facts), _selection(facts), _patterns(facts), _rules(facts)]
    if facts["facts"]:
        parts.append("## This scenario's facts\n\n" + _mapping(facts["facts"]))
    parts.append(_recording(facts))
    return "\n".join(parts)


def _population(facts: Mapping[str, Any]) -> str:
    pop, bar = facts["population"], facts["bar"]
    return (
        "## Population and the bar\n\n"
        f"- population rate of would_be_found: **{_pct(pop['rate'])}** "
        f"({pop['would_be_found']:,} of {pop['shipments']:,}); violating: "
        f"{_pct(pop['violating_rate'])}\n"
        f"- the bar: **{_pct(bar['rate'])}** = 2 x the population rate. The default promotion "
        "policy (targeting/decide/policy.py) asks for a Wilson lower bound of at least "
        "max(2%, 2 x baseline); scenarios treat the baseline as the population rate, where the "
        "next change of the policy moves it (today's baseline is the hit rate of all exams, "
        "which selection inflates).\n"
        f"- examined: {pop['examined']:,} shipments ({_pct(pop['exam_rate'])}), {pop['exams']:,} "
        f"exams; mean logged selection_probability over all shipments "
        f"{_pct(pop['mean_selection_probability'])} (its sampling sd "
        f"{_pct(pop['selection_probability_sd'])})\n")


def _selection(facts: Mapping[str, Any]) -> str:
    rows = [(m, c["exams"], _pct(c["share_of_exams"]), c["finds"], _pct(c["share_of_finds"]),
             _pct(c["expected_share_of_finds"]), _pct(c["hit_rate"]), _pct(c["cut_by_capacity"]))
            for m, c in facts["selection"].items()]
    finds = facts["finds"]
    modes = ", ".join(f"{m} {_pct(s)}" for m, s in finds["by_mode"].items())
    return ("## Who selected the exams\n\n" + _table(
        ("selected by", "exams", "share of exams", "finds", "share of finds",
         "expected share of finds", "hit rate", "demand cut by capacity"), rows)
        + f"\nFinds ({finds['total']:,}) by mode: {modes}; from CN or HK: "
        f"{_pct(finds['cn_hk_share'])}. The expected share is computed from the selection "
        "probabilities (each selector's chance of being credited, times would_be_found); the "
        "cut is the share of a rationed stage's probability mass that port-day capacity "
        "removed (random exams and tips are never rationed).\n")


def _patterns(facts: Mapping[str, Any]) -> str:
    rows = [(p["name"], p["shipments"], p["violating"], p["would_be_found"], _pct(p["precision"]),
             _x(p["ratio"])) for p in facts["patterns"]]
    return ("## Planted patterns (by each shipment's `pattern` in truth.parquet)\n\n" + _table(
        ("pattern", "shipments", "violating", "would_be_found", "true precision",
         "x population"), rows))


def _rules(facts: Mapping[str, Any]) -> str:
    rows = [(r["id"], r["kind"], r["port"] or "", r["status"], r["created"] or "", r["matches"],
             _pct(r["precision"]), r["matches_since_created"], _pct(r["precision_since_created"]),
             _x(r["ratio_since_created"]), r["examined_since_created"],
             _pct(r["observed_hit_rate"]), r["own_exams"], _pct(r["naive_hit_rate"]))
            for r in facts["rules"]]
    return ("## Rules: true precision against what the exams show\n\n"
            "True precision is the mean of would_be_found over the rule's matches (all, and "
            "since its created date); the observed hit rate counts every exam of its matches "
            "since created; the naive hit rate only the exams credited to the rule.\n\n" + _table(
                ("rule", "kind", "port", "status", "created", "matches", "true precision",
                 "since created", "precision since", "x population", "examined",
                 "observed hit rate", "own exams", "naive hit rate"), rows))


def _recording(facts: Mapping[str, Any]) -> str:
    rows = [(port, ", ".join(f"{k} {v}" for k, v in counts.items()))
            for port, counts in facts["dispositions"].items()]
    return ("## What ports recorded for discrepant exams\n\n"
            + _table(("port", "dispositions (count of discrepant exams)"), rows)
            + f"\nReferrals to ICE/HSI: {facts['referrals']:,}.\n")


def _mapping(values: Mapping[str, Any]) -> str:
    """Scalars as a list, lists of records as tables."""
    lines, tables = [], []
    for key, value in values.items():
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            tables.append(f"{key}:\n\n" + _table(tuple(value[0]), [tuple(v.values()) for v in value]))
        else:
            lines.append(f"- {key}: {_value(value)}")
    return "\n".join(lines) + "\n\n" + "\n".join(tables)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_value(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def _x(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"
