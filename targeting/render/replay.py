"""`targeting replay` as JSON, a terminal table with its summary, and one HTML page.
Rendering only: everything shown comes from `replay.Replay`."""
from __future__ import annotations

from typing import Any

from rich.table import Table

from targeting.decide.replay import PROMOTE, RETIRE, Decision, Replay, Tally
from targeting.render import formats as report
from targeting.render.charts import Interval, interval_chart
from targeting.render.escape import html_text, terminal
from targeting.render.html import page
from targeting.units import num, pct


def as_json(r: Replay) -> dict[str, Any]:
    """The JSON document of `targeting replay --format json`."""
    floor = r.policy.min_examined
    return {
        "policy_hash": r.policy.hash,
        "every": str(r.step),
        "history": r.history.as_dict(),
        "cutoffs": [day.isoformat() for day in r.cutoffs],
        "decisions": [_decision(d, floor) for d in r.decisions],
        "summary": {action: {**r.tally(action).counts, "wrong_share": r.tally(action).wrong_share}
                    for action in (PROMOTE, RETIRE)},
        "late_exams": [{**row, "cutoff": row["cutoff"].isoformat()} for row in r.late],
    }


def _decision(d: Decision, floor: float) -> dict[str, Any]:
    real = d.realised
    return {"cutoff": d.cutoff.isoformat(), "id": d.id, "action": d.action, "scope": d.scope,
            "promised": d.promised, "promised_low": d.promised_low,
            "promised_high": d.promised_high, "promised_bar": d.promised_bar,
            "realised": real.get("est_hit_rate"), "realised_low": real.get("est_hit_rate_low"),
            "realised_high": real.get("est_hit_rate_high"),
            "realised_examined": real.get("est_examined"),
            "realised_method": real.get("est_method"), "bar": d.bar,
            "position": d.position(floor),
            "after_since": d.after.since.isoformat() if d.after else None,
            "after_until": d.after.until.isoformat() if d.after else None,
            "made_at": [day.isoformat() for day in d.made_at]}


def header(r: Replay) -> str:
    """What was replayed, in one line."""
    return (f"policy {r.policy.hash[:12]} · {len(r.cutoffs)} cut-offs every {r.step}, "
            f"{r.cutoffs[0]} .. {r.cutoffs[-1]} · each decision at the first cut-off that makes "
            f"it, realised over the arrivals after it to {r.history.until}")


def summary(r: Replay) -> list[str]:
    """How the decisions held up, in sentences, then what the backtests knew early."""
    floor = f"{r.policy.min_examined:g}"
    lines = [_tally_line(r.tally(PROMOTE), "Promotions", "delivered above the bar",
                         "False promotions", floor),
             _tally_line(r.tally(RETIRE), "Retirements on decay", "stayed below the limit",
                         "Mistaken retirements", floor)]
    late = max(r.late, key=lambda row: row["examined_late"], default=None)
    if late is not None and late["examined_late"]:
        lines.append(f"Known early: at {late['cutoff']}, {late['examined_late']:,} shipments "
                     f"arriving by the cut-off were first examined after it "
                     f"({late['discrepant_late']:,} first found discrepant after it); the "
                     "backtests count those exams (docs/policy.md, \"Replay\").")
    return lines


def _tally_line(t: Tally, name: str, held: str, wrong: str, floor: str) -> str:
    c = t.counts
    good, bad = ("above", "below") if t.action == PROMOTE else ("below", "above")
    share = t.wrong_share
    measured = (f"{wrong} where measurable: {c[bad]} of {c[good] + c[bad]} ({pct(share, 0)})"
                if share is not None else f"{wrong}: not measurable yet")
    superseded = f"; {c['no bar']} retired as superseded only (no bar)" if c["no bar"] else ""
    return (f"{name}: {t.total - c['no bar']}; {c[good]} {held} (the whole realised 95% interval), "
            f"{c[bad]} {'below the bar' if t.action == PROMOTE else 'above the limit'}, "
            f"{c['straddles']} undecided (the interval spans it), {c['unmeasured']} unmeasured "
            f"(fewer than {floor} effective exams after the cut-off, or none){superseded}. {measured}.")


def promised(d: Decision) -> str:
    """'21.1% ≥14.5%': a promotion promises its lower bound, a retirement its upper."""
    if d.promised is None:
        return "–"
    if d.action == PROMOTE:
        return f"{pct(d.promised)} ≥{pct(d.promised_low)}"
    return f"{pct(d.promised)} ≤{pct(d.promised_high)}"


def against_bar(d: Decision, floor: float) -> str:
    """'above 2.35%', 'spans 2.35%', 'superseded' (no bar), '–' (too little to tell)."""
    position = d.position(floor)
    if position == "unmeasured":
        return "–"
    if position == "no bar":
        return "superseded"
    word = {"above": "above", "below": "below", "straddles": "spans"}[position]
    return f"{word} {pct(d.bar, 2)}"


def action(d: Decision) -> str:
    return f"{d.action} (national)" if d.action == PROMOTE and d.scope == "national" else d.action


_COLUMNS = ("cut-off", "id", "action", "promised", "realised [95% CI]", "eff. n", "vs bar")
_EFFECTIVE_N_FROM = 90  # terminal width from which the realised effective sample is shown


def _cells(d: Decision, floor: float) -> list[str]:
    return [str(d.cutoff), d.id, action(d), promised(d), report.estimate(d.realised, floor),
            num(d.realised.get("est_examined"), 0), against_bar(d, floor)]


def table(r: Replay, width: int = 80) -> Table:
    """One row per decision, in the order first made; the effective sample from 90 columns."""
    shown = [i for i, name in enumerate(_COLUMNS)
             if name != "eff. n" or width >= _EFFECTIVE_N_FROM]
    out = Table(box=None, pad_edge=False, header_style="bold", title="Decisions and what followed",
                title_justify="left")
    for i in shown:
        out.add_column(_COLUMNS[i], no_wrap=True, justify="right" if i == 5 else "left")
    for d in r.decisions:
        cells = _cells(d, r.policy.min_examined)
        out.add_row(*(terminal(cells[i]) for i in shown))
    return out


def terminal_renderables(r: Replay, width: int = 80) -> list[Any]:
    """The header, the table and the summary, for rich at `width` columns."""
    if not r.decisions:
        return [terminal(header(r)), "The policy makes no promotion or retirement at any cut-off."]
    return [terminal(header(r)), table(r, width), *(terminal(line) for line in summary(r))]


def html(r: Replay) -> str:
    """One self-contained page: the summary, promised against realised, every decision."""
    floor = r.policy.min_examined
    rows = "".join("<tr>" + "".join(f"<td{' class=num' if i in (3, 4, 5) else ''}>"
                                    f"{html_text(cell)}" for i, cell in enumerate(_cells(d, floor)))
                   for d in r.decisions)
    heads = "".join(f"<th{' class=num' if i in (3, 4, 5) else ''}>{html_text(h)}"
                    for i, h in enumerate(_COLUMNS))
    items = "".join(f"<li>{html_text(line)}" for line in summary(r))
    promotions = [d for d in r.decisions if d.action == PROMOTE]
    chart = interval_chart([Interval(f"{d.id} {label}", *values) for d in promotions
                            for label, values in (("promised", _promised(d)),
                                                  ("realised", _realised(d, floor)))],
                           None, None, title="Promoted queries: promised and realised precision",
                           axis="promotion") if promotions else ""
    return page("Policy replay", [
        f"<p class=meta>{html_text(header(r))}</p>", f"<ul>{items}</ul>",
        "<h2>Promotions: promised and realised</h2>" + (chart or "<p>No promotion.</p>"),
        f"<h2>Every decision</h2><table><tr>{heads}{rows}</table>",
        "<p class=meta>Promised: the estimate at the cut-off with the bound the decision rests "
        "on (a promotion's lower, a retirement's upper). Realised: the same rule's estimate, "
        "as it would have run, over every arrival after the cut-off. The bar is the policy's, "
        "over those arrivals (docs/policy.md, \"Replay\").</p>"])


def _promised(d: Decision) -> tuple[float | None, float | None, float | None]:
    return d.promised, d.promised_low, d.promised_high


def _realised(d: Decision, floor: float) -> tuple[float | None, float | None, float | None]:
    real = d.realised
    if not report.sufficient(real, floor):
        return None, None, None
    return real.get("est_hit_rate"), real.get("est_hit_rate_low"), real.get("est_hit_rate_high")
