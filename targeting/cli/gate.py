"""`targeting gate`: the CI check on a branch's rule and query changes."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from targeting.cli.common import (
    as_date,
    config_option,
    engine_option,
    reports_errors,
    window_options,
    write_atomic,
)
from targeting.gate import report, run_gate
from targeting.project import open_project


@click.command(name="gate")
@click.option("--base", "base_ref", metavar="REF",
              help="Compare with the merge base of REF and HEAD (default: origin/main, else main).")
@click.option("--fail-on-warnings/--pass-on-warnings", default=None,
              help="Whether warnings fail the gate (default: gate.fail_on_warnings, false).")
@click.option("--format", "fmt", type=click.Choice(["text", "github"]), default="text",
              show_default=True, help="Terminal output: a summary, or GitHub annotations.")
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a pull-request comment (Markdown) to this file.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write JUnit XML (one test case per rule and check) to this file.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the full result as JSON to this file.")
@click.option("--sarif", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write failing and warning checks as SARIF 2.1.0 (code scanning).")
@click.option("--codequality", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write them as a GitLab Code Quality report.")
@click.option("--no-cache", is_flag=True, help="Recompute every backtest, ignoring .targeting-cache/.")
@window_options
@engine_option
@config_option
@reports_errors
def command(base_ref: str | None, fail_on_warnings: bool | None, fmt: str,
            markdown: Path | None, junit: Path | None, json_out: Path | None, sarif: Path | None,
            codequality: Path | None, no_cache: bool, since: dt.datetime | None,
            until: dt.datetime | None, last: str | None, engine: str | None,
            config_path: Path | None) -> None:
    """Validate and backtest the rules a branch adds, changes or removes; exit 1 if it must not merge.

    Exit 0 pass, 1 fail, 2 usage, config, git or data error. See docs/gate.md.
    """
    project = open_project(config_path, engine)
    result = run_gate(project, base_ref, use_cache=not no_cache, fail_on_warnings=fail_on_warnings,
                      since=as_date(since), until=as_date(until), last=last)
    click.echo(report.github(result) if fmt == "github" else report.text(result))
    if fmt == "github":
        click.echo(report.text(result), err=True)
    outputs = ((markdown, report.markdown), (junit, report.junit), (json_out, report.as_json),
               (sarif, report.sarif), (codequality, report.codequality))
    for path, render in outputs:
        if path is not None:
            write_atomic(path, render(result))
    sys.exit(0 if result.passed else 1)
