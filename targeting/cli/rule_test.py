"""`targeting test`: the officer's loop — one rule, its numbers, in about a second."""
from __future__ import annotations

import os
from pathlib import Path

import click
import polars as pl
from rich.panel import Panel
from rich.table import Table

from targeting import files
from targeting.backtest.run import project_window
from targeting.cli.common import as_date, config_option, console, reports_errors, window_options
from targeting.decide.inspect import MIN_RANDOM_EXAMS, RuleReport, inspect_rule
from targeting.project import open_project
from targeting.render import formats as report

SAMPLE_COLUMNS = ("shipment_id", "arrival_date", "port_code", "description")
WIDE_SAMPLE_COLUMNS = ("shipment_id", "arrival_date", "port_code", "mode", "country_of_origin",
                       "hts_code", "description", "declared_value")


@click.command(name="test")
@click.argument("rule")
@config_option
@window_options
@click.option("--export", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every matched shipment with its exam outcome (.csv or .parquet).")
@reports_errors
def command(rule, config_path, since, until, last, export) -> None:
    """Backtest one rule or query (a file path or an id) on the configured data."""
    project = open_project(config_path)
    window = project_window(project, as_date(since), as_date(until), last)
    result = inspect_rule(project, rule, window, all_matches=export is not None)
    _attach_verdict(project, result)
    _print(result)
    if export is not None:
        _export(result.matched, export)
        click.echo(f"wrote {export} ({result.metrics['targeted']:,} shipments)", err=True)


def _attach_verdict(project, result: RuleReport) -> None:
    """The promotion verdict, when a policy module is available."""
    try:
        from targeting.decide.policy import verdict_for
    except ImportError:
        return
    result.verdict = verdict_for(project, result)


def _print(r: RuleReport) -> None:
    out = console()
    m = r.metrics
    title = f"{r.rule.id} · {r.rule.kind} · {r.rule.title}"
    out.print(Panel(r.english, title=title, title_align="left"))
    for problem in r.problems:
        out.print(f"[yellow]{problem}[/]")
    examples = len(r.rule.examples)
    out.print(f"examples: {examples} pass" if examples else "[yellow]examples: none; add tests.match and tests.no_match[/]")
    out.print(report.window_line(r.window.as_dict(), r.baseline))
    out.print(_panel(r))
    out.print(_trend(r))
    if r.by_port.height:
        out.print(report.rows_table(r.by_port.to_dicts(), _PORT_COLUMNS, title="By port"))
    out.print(_overlap_line(r))
    if r.verdict is not None:
        out.print(r.verdict.render())
    sample = r.sample
    if sample.height:
        out.print(_sample_table(sample, WIDE_SAMPLE_COLUMNS if out.width >= 120 else SAMPLE_COLUMNS))
    if m["targeted"] == 0:
        out.print("[yellow]The rule matches no shipment in the window.[/]")


def _panel(r: RuleReport) -> Table:
    m = r.metrics
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("targeted", f"{m['targeted']:,}  ({report.num(m['flags_per_day'], 1)} per day, "
                  f"{m['ports_targeted']} ports)")
    table.add_row("examined", f"{m['examined']:,}  (exam rate {report.pct(m['exam_rate'])})")
    table.add_row("discrepant", f"{m['discrepant']:,}")
    table.add_row("hit rate", report.interval(m) + "  (95% Wilson interval)")
    table.add_row("lift", f"{report.num(m['lift'], 2)} over the baseline; "
                  f"{report.num(m['lift_within_ports'], 2)} within its ports")
    table.add_row("random exams", _random_line(r))
    table.add_row("self-selected", report.pct(m["self_selected_share"]) + " of its exams came from this rule")
    table.add_row("outcomes", f"{m['seizures']} seizures, {m['abandonments']} abandonments, "
                  f"{m['refused_entries']} refused entries, {m['other_outcomes']} other; "
                  f"MSRP ${report.num(m['msrp_total'], 0)}; {m['referrals']} referred to ICE")
    return table


def _random_line(r: RuleReport) -> str:
    m = r.metrics
    if not r.enough_random:
        return (f"only {m['random_examined']} random exams (< {MIN_RANDOM_EXAMS}); "
                "too few for an unbiased estimate")
    return (f"{report.pct(m['random_hit_rate'])} ({m['random_discrepant']}/{m['random_examined']}) "
            f"vs baseline random {report.pct(r.baseline['random_hit_rate'])}")


def _trend(r: RuleReport) -> str:
    months = _window_months(r)
    counts = {row["month"]: row for row in r.monthly.to_dicts()}
    targeted = [counts.get(mo, {}).get("targeted", 0) for mo in months]
    hits = [counts.get(mo, {}).get("discrepant", 0) for mo in months]
    first, last = (months[0], months[-1]) if months else ("", "")
    return (f"monthly {first} .. {last}\n  targeted   {report.sparkline(targeted)}  max {max(targeted, default=0):,}"
            f"\n  discrepant {report.sparkline(hits)}  max {max(hits, default=0):,}")


def _window_months(r: RuleReport) -> list[str]:
    start, end = r.window.since, r.window.until
    months, (y, mo) = [], (start.year, start.month)
    while (y, mo) <= (end.year, end.month):
        months.append(f"{y:04d}-{mo:02d}")
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return months


_PORT_COLUMNS = [("port", "port", str), ("targeted", "targeted", report.num),
                 ("examined", "examined", report.num), ("discrepant", "discrepant", report.num),
                 ("hit rate", "hit_rate", report.pct), ("flags/day", "flags_per_day", lambda v: report.num(v, 2))]


def _overlap_line(r: RuleReport) -> str:
    if not r.overlaps.height:
        return "overlap: no active UDR matches any of the same shipments"
    parts = [f"{o['udr']} {report.pct(o['jaccard'])} ({o['shared']:,} shared)" for o in r.overlaps.to_dicts()]
    return (f"overlap with active UDRs (Jaccard): {', '.join(parts)}; "
            f"{r.metrics['unique_discrepant']:,} discrepant shipments no active UDR catches")


def _sample_table(sample: pl.DataFrame, columns: tuple[str, ...]) -> Table:
    shown = [c for c in columns if c in sample.columns] + ["outcome"]
    table = Table(box=None, pad_edge=False, header_style="bold", title="Matched shipments (discrepant, most recent first)",
                  title_justify="left")
    for column in shown:
        table.add_column(column, overflow="ellipsis", no_wrap=True,
                         max_width=28 if column == "description" else None)
    for row in sample.to_dicts():
        outcome = row["outcome"] or ("no discrepancy" if row["examined"] else "not examined")
        table.add_row(*[_cell(row.get(c)) for c in shown[:-1]], outcome)
    return table


def _cell(value) -> str:
    return "" if value is None else str(value)


def _export(frame: pl.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise click.UsageError(f"--export {path}: use a .csv or .parquet file name")
    fd, tmp = files.temp_beside(path, suffix)
    os.close(fd)
    try:
        frame.write_csv(tmp) if suffix == ".csv" else frame.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
