"""The data profile of `targeting data check`."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from targeting.data.checks import CheckReport
from targeting.render.coverage import RECORDING_COLUMNS
from targeting.render.escape import one_line, terminal
from targeting.render.terminal import rows_table

TOP_PORTS = 5
SHOWN_NULLS = 12


def check_json(report: CheckReport) -> dict[str, Any]:
    """The JSON document of `data check --format json`."""
    return {"ok": report.ok, "problems": [p.to_dict() for p in report.problems],
            "profile": report.profile}


def print_profile(profile: dict[str, Any], out: Console) -> None:
    """The data profile and the columns with missing values."""
    out.print(_summary(profile))
    nulls = _null_table(profile)
    if nulls.row_count:
        out.print(nulls)
    if profile.get("fields"):
        out.print(fields_table(profile["fields"]))
    if profile.get("recording"):
        out.print(rows_table(profile["recording"], RECORDING_COLUMNS,
                             title="Outcome recording by port (discrepant exams)"))


def _summary(profile: dict[str, Any]) -> Table:
    table = Table(title="Data profile", show_header=False, box=None, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold", max_width=60)
    ports, modes = profile["ports"], profile["modes"]
    table.add_row("rows", f"{profile['rows']:,}")
    table.add_row("arrival dates", f"{profile['date_min']} .. {profile['date_max']}")
    table.add_row("ports", f"{len(ports)}" + (f" (most rows: {terminal(_top(ports))})" if ports else ""))
    table.add_row("modes", terminal(_top(modes, len(modes))) if modes else "(no mode column)")
    table.add_row("exams", f"{profile['exams']:,}")
    table.add_row("exam rate", _rate(profile["exam_rate"], profile["examined_shipments"],
                                     profile["rows"], "shipments examined"))
    table.add_row("discrepancy rate", _rate(profile["discrepancy_rate"],
                                            profile["discrepant_shipments"],
                                            profile["examined_shipments"], "examined discrepant"))
    return table


def _null_table(profile: dict[str, Any]) -> Table:
    table = Table(title="Columns with missing values", title_justify="left")
    table.add_column("table")
    table.add_column("column")
    table.add_column("empty", justify="right")
    rows = [("manifest", c, s) for c, s in profile["null_share"].items() if s > 0]
    rows += [("exams", c, s) for c, s in profile["exam_null_share"].items() if 0 < s < 1]
    for name, column, share in sorted(rows, key=lambda r: -r[2])[:SHOWN_NULLS]:
        table.add_row(name, terminal(one_line(column)), f"{share:.1%}")
    return table


def _top(counts: dict[str, int], n: int = TOP_PORTS) -> str:
    return "; ".join(f"{k}: {v:,}" for k, v in list(counts.items())[:n])


def _rate(rate: float | None, part: int, whole: int, what: str) -> str:
    if rate is None:
        return "n/a (none examined)"
    return f"{rate:.2%} ({part:,} of {whole:,} {what})"


def fields_table(fields: list[dict[str, Any]]) -> Table:
    """Every manifest field: its type in rules, distinct and empty values, and its most frequent
    values (text, true/false) or its range (numbers, dates): what a rule can compare it with."""
    table = Table(title="Fields (what rules can test)", title_justify="left", box=None,
                  pad_edge=False, header_style="bold")
    for header in ("field", "type", "distinct", "empty", "top values / range"):
        table.add_column(header, justify="right" if header in ("distinct", "empty") else "left",
                         no_wrap=header != "top values / range", overflow="fold")
    for f in fields:
        if f["range"] is not None:
            low, high = f["range"]
            values = "–" if low is None else f"{low} .. {high}"
        else:
            values = ", ".join(f"{v} ({n:,})" for v, n in f["top"]) or "–"
        table.add_row(terminal(one_line(f["field"])), f["type"], f"{f['distinct']:,}",
                      f"{f['empty']:,}", terminal(one_line(values)))
    return table
