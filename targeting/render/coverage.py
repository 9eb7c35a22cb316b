"""Coverage: what the programme misses (estimates, first), who found what was found
(observed), and how completely outcomes are recorded. Terminal, Markdown and JSON."""
from __future__ import annotations

from typing import Any

from rich.console import Console

from targeting.decide.coverage import Coverage, Missed
from targeting.render.escape import markdown as md
from targeting.render.escape import terminal
from targeting.render.formats import markdown_table
from targeting.render.terminal import rows_table
from targeting.units import num, pct

_TITLES = {"all": "All recorded discrepant shipments (observed)",
           "selection_method": "By recorded selection method",
           "priority": "By priority tag (matched by an active rule with the tag)",
           "outcome": "By outcome", "referral": "By referral to investigators"}

_COLUMNS = [("group", "group", terminal), ("discrepant", "discrepant", num),
            ("UDR", "udr_share", pct), ("query only", "query_only_share", pct),
            ("no rule", "none_share", pct)]
RECORDING_COLUMNS = [("port", "port", terminal), ("disc. exams", "discrepant_exams", num),
                     ("recorded", "recorded_share", pct), ("abandoned/refused", "alternatives", num),
                     ("seized", "seizures", num), ("note", "flag", terminal)]


def missed_line(m: Missed) -> str:
    """'Matched by no active UDR: 57.1% [48.2–65.6%] of all violations (estimate, weighted by
    …); observed among recorded finds: 7.2%.'"""
    e = m.estimate
    if e.rate is None:
        head = f"Matched by {m.what}: no estimate ({e.note})"
    else:
        head = (f"Matched by {m.what}: {pct(e.rate)} [{pct(e.low)}–{pct(e.high)}] of all "
                f"violations (estimate: {e.note})")
    observed = f"; observed among recorded finds: {pct(m.observed)}" if m.observed is not None else ""
    note = f". {m.power_note[0].upper()}{m.power_note[1:]}" if m.power_note else ""
    return f"{head}{observed}{note}."


def print_coverage(cov: Coverage, out: Console) -> None:
    """The estimates first, then one observed table per dimension, then recording."""
    out.print("[bold]What the programme misses (estimates over every shipment)[/]")
    for m in cov.missed:
        out.print(terminal(missed_line(m)))
    out.print()
    for dimension, title in _TITLES.items():
        rows = cov.table.filter(cov.table["dimension"] == dimension).to_dicts()
        if rows:
            out.print(rows_table(rows, _COLUMNS, title=title))
            out.print()
    if cov.recording.height:
        out.print(rows_table(cov.recording.to_dicts(), RECORDING_COLUMNS,
                             title="Outcome recording by port"))


def coverage_markdown(cov: Coverage) -> str:
    """The coverage report as a Markdown document."""
    parts = ["# Coverage of violations\n", f"Window {cov.window}.\n",
             "## What the programme misses (estimates)\n"]
    parts += [f"- {md(missed_line(m))}" for m in cov.missed]
    parts.append("")
    for dimension, title in _TITLES.items():
        part = cov.table.filter(cov.table["dimension"] == dimension).drop("dimension")
        if part.height:
            shares = dict.fromkeys(("udr_share", "query_only_share", "none_share"), pct)
            parts.append(f"## {title}\n\n{markdown_table(part.to_dicts(), shares, part.columns)}\n")
    if cov.recording.height:
        parts.append("## Outcome recording by port\n\n"
                     + markdown_table(cov.recording.to_dicts(), {"recorded_share": pct}) + "\n")
    return "\n".join(parts)


def coverage_json(cov: Coverage) -> dict[str, Any]:
    """The JSON document of `coverage --format json`."""
    return {"window": cov.window.as_dict(), "baseline": cov.baseline,
            "missed": [m.as_dict() for m in cov.missed],
            "coverage": cov.table.to_dicts(), "recording": cov.recording.to_dicts()}
