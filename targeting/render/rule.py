"""The officer's screen for one rule (`targeting test`), and the export of its matches."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from targeting import files
from targeting.backtest.matches import Rows
from targeting.decide.inspect import MIN_RANDOM_EXAMS, RuleReport
from targeting.decide.policy import Verdict
from targeting.errors import TargetingError
from targeting.render.criteria import explain_verdict, summary
from targeting.render.escape import one_line, plain, terminal
from targeting.render.formats import (
    disagreement,
    estimate,
    estimate_basis,
    estimate_lift,
    evidence_from,
    interval,
    sparkline,
    window_line,
)
from targeting.render.terminal import rows_table
from targeting.units import num, pct, plural

if TYPE_CHECKING:
    import polars as pl

SAMPLE_COLUMNS = ("shipment_id", "arrival_date", "port_code", "description")
WIDE_SAMPLE_COLUMNS = ("shipment_id", "arrival_date", "port_code", "mode", "country_of_origin",
                       "hts_code", "description", "declared_value")


def print_report(r: RuleReport, out: Console) -> None:
    """The officer's screen for one rule."""
    m = r.metrics
    # A Text title: rich reads a str title as markup with emoji codes, whatever the console says.
    title = Text(plain(one_line(f"{r.rule.id} · {r.rule.kind} · {r.rule.title}")))
    out.print(Panel(terminal(r.english), title=title, title_align="left"))
    for problem in r.problems:
        out.print(f"[yellow]{terminal(one_line(problem))}[/]")
    examples = len(r.rule.examples)
    out.print(f"examples: {examples} pass" if examples
              else "[yellow]examples: none; add tests.match and tests.no_match[/]")
    out.print(window_line(r.window.as_dict(), r.baseline))
    out.print(_panel(r))
    sentence = disagreement(m)
    if sentence:
        out.print(f"[yellow]{terminal(sentence)}[/]")
    out.print(_trend(r))
    if r.by_port:
        out.print(rows_table(r.by_port, _PORT_COLUMNS, title="By port"))
    out.print(_overlap_line(r))
    if r.verdict is not None:
        out.print(_verdict(r.verdict, r.policy))
    if r.retirement is not None:
        out.print(_retirement(r.retirement))
    sample = r.sample
    if sample:
        out.print(_sample_table(sample, WIDE_SAMPLE_COLUMNS if out.width >= 120 else SAMPLE_COLUMNS))
    if m["targeted"] == 0:
        out.print("[yellow]The rule matches no shipment in the window.[/]")


def _verdict(verdict: Verdict, policy: Any) -> str:
    """The verdict, then each failing criterion in words with what would change it."""
    colour = "green" if verdict.promote else "yellow"
    lines = [f"[{colour}]verdict: {terminal(summary(verdict))}[/]",
             f"  {terminal(evidence_from(verdict.evidence_window.since, verdict.evidence_source))}"]
    for e in explain_verdict(verdict, policy):
        if not e.passed:
            lines.append(f"  ✗ {terminal(e.sentence)}\n    {e.prefix.lower()}: {terminal(e.change)}")
    passed = [c.name for c in verdict.criteria if c.passed]
    if passed and not verdict.promote:
        lines.append(f"  ✓ passes {', '.join(passed)}")
    return "\n".join(lines)


def _retirement(reasons: list[str]) -> str:
    if not reasons:
        return "retirement: the policy does not propose to retire this UDR"
    return "[yellow]retirement: PROPOSED[/] — " + terminal("; ".join(reasons))


def _panel(r: RuleReport) -> Table:
    m = r.metrics
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("targeted", f"{m['targeted']:,}  ({num(m['flags_per_day'], 1)} per day, "
                  f"{plural(m['ports_targeted'], 'port')}, "
                  f"{plural(m['months_with_hits'], 'month')} with hits)")
    table.add_row("estimated precision", f"{estimate(m, r.min_examined)}  "
                  f"({estimate_basis(m)}; over everything it matches)")
    table.add_row("estimated lift", f"{estimate_lift(m, r.min_examined, 2)} over the population's "
                  f"{pct(r.baseline.get('est_hit_rate'), 2)}")
    table.add_row("examined", f"{m['examined']:,}  (exam rate {pct(m['exam_rate'])}): "
                  f"{m['own_examined']:,} chosen by this rule, {m['other_examined']:,} by others")
    table.add_row("observed hit rate", f"{interval(m)}  ({m['discrepant']:,} discrepant; "
                  f"own selections {m['own_discrepant']}/{m['own_examined']}, others' "
                  f"{m['other_discrepant']}/{m['other_examined']})")
    table.add_row("observed lift", f"{num(m['lift'], 2)} over all exams' hit rate; "
                  f"{num(m['lift_within_ports'], 2)} within its ports (its own exams left out)")
    table.add_row("random exams", _random_line(r))
    table.add_row("outcomes", f"{m['seizures']} seizures, {m['abandonments']} abandonments, "
                  f"{m['refused_entries']} refused entries, {m['other_outcomes']} other; "
                  f"MSRP ${num(m['msrp_total'], 0)}; {m['referrals']} referred to ICE")
    return table


def _random_line(r: RuleReport) -> str:
    m = r.metrics
    found = (f"{m['random_discrepant']}/{m['random_examined']}, "
             f"{pct(m['random_hit_rate'])} [{pct(m['random_hit_rate_low'])}–"
             f"{pct(m['random_hit_rate_high'])}]" if m["random_examined"] else "none")
    if not r.enough_random:
        return f"{found}: fewer than {MIN_RANDOM_EXAMS}, too few to judge on their own"
    return f"{found}; all random exams find {pct(r.baseline['random_hit_rate'])}"


def _trend(r: RuleReport) -> str:
    months = _window_months(r)
    counts = {row["month"]: row for row in r.monthly}
    targeted = [counts.get(mo, {}).get("targeted", 0) for mo in months]
    hits = [counts.get(mo, {}).get("discrepant", 0) for mo in months]
    first, last = (months[0], months[-1]) if months else ("", "")
    return (f"monthly {first} .. {last}\n  targeted   {sparkline(targeted)}  max {max(targeted, default=0):,}"
            f"\n  discrepant {sparkline(hits)}  max {max(hits, default=0):,}")


def _window_months(r: RuleReport) -> list[str]:
    start, end = r.window.since, r.window.until
    months, (y, mo) = [], (start.year, start.month)
    while (y, mo) <= (end.year, end.month):
        months.append(f"{y:04d}-{mo:02d}")
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return months


_PORT_COLUMNS = [("port", "port", str), ("targeted", "targeted", num),
                 ("examined", "examined", num), ("discrepant", "discrepant", num),
                 ("hit rate", "hit_rate", pct), ("flags/day", "flags_per_day", lambda v: num(v, 2))]


def _overlap_line(r: RuleReport) -> str:
    if not r.overlaps:
        return "overlap: no active UDR matches any of the same shipments"
    parts = [f"{terminal(o['udr'])}: Jaccard {pct(o['jaccard'])} "
             f"({plural(o['shared'], 'shared shipment')}); it matches "
             f"{pct(o['share_of_rule'])} of this rule's targets, this rule "
             f"{pct(o['share_of_udr'])} of its" for o in r.overlaps]
    return (f"overlap with active UDRs: {'; '.join(parts)}. "
            f"{plural(r.metrics['unique_discrepant'], 'discrepant shipment')} no active UDR "
            "catches")


def _sample_table(sample: Rows, columns: tuple[str, ...]) -> Table:
    shown = [c for c in columns if c in sample[0]] + ["outcome"]
    table = Table(box=None, pad_edge=False, header_style="bold", title=sample_title(sample),
                  title_justify="left")
    for column in shown:
        table.add_column(column, overflow="ellipsis", no_wrap=True,
                         max_width=28 if column == "description" else None)
    for row in sample:
        outcome = row["outcome"] or ("no discrepancy" if row["examined"] else "not examined")
        table.add_row(*[_cell(row.get(c)) for c in shown[:-1]], outcome)
    return table


def sample_title(sample: Rows) -> str:
    """What the sample shows, true to its rows: discrepant ones first only when there are."""
    if any(row["discrepant"] for row in sample):
        order = "discrepant first, then examined, most recent first"
    elif any(row["examined"] for row in sample):
        order = "none discrepant; examined first, most recent first"
    else:
        order = "none examined; most recent first"
    return f"Matched shipments ({order})"


def _cell(value: Any) -> str:
    return "" if value is None else terminal(one_line(value))


def report_json(r: RuleReport) -> dict[str, Any]:
    """`targeting test --format json`: the fields of an `evaluate` row, then the context."""
    return {**r.metrics, "title": r.rule.title, "english": r.english,
            "window": r.window.as_dict(), "baseline": r.baseline,
            "verdict": _verdict_json(r),
            "monthly": r.monthly, "by_port": r.by_port, "overlaps": r.overlaps,
            "problems": [{"code": p.code, "severity": p.severity, "message": p.message,
                          "location": str(p.location) if p.location else None}
                         for p in r.problems]}


def _verdict_json(r: RuleReport) -> dict[str, Any] | None:
    """The promotion verdict (a query) with each criterion in words, or the retirement
    status (a UDR)."""
    if r.verdict is not None:
        return {**r.verdict.as_dict(), "summary": summary(r.verdict),
                "explanation": [e.as_dict() for e in explain_verdict(r.verdict, r.policy)]}
    if r.retirement is not None:
        return {"id": r.rule.id, "retire": bool(r.retirement), "reasons": r.retirement}
    return None


def export_matches(frame: pl.DataFrame, path: Path) -> None:
    """Write every matched shipment to .csv or .parquet, atomically."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ExportError(f"--export {path}: use a .csv or .parquet file name")
    fd, tmp = files.temp_beside(path, suffix)
    os.close(fd)
    try:
        frame.write_csv(tmp) if suffix == ".csv" else frame.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ExportError(TargetingError):
    """An export file name the tool cannot write."""
