"""`targeting candidates`, `promote` and `retire`: the NTC's review loop."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from targeting.backtest.run import project_window
from targeting.cli.common import (
    as_date,
    config_option,
    emit,
    engine_option,
    output_options,
    reports_errors,
    window_options,
)
from targeting.decide.promotion import promote, retire
from targeting.decide.review import build_review
from targeting.project import open_project
from targeting.render import dossier
from targeting.render import formats as report
from targeting.render import html as html_report
from targeting.render.terminal import console


@click.command(name="candidates")
@config_option
@window_options
@engine_option
@output_options(["table", "json", "markdown", "html"],
                "Output format; markdown and html are the review dossier.")
@reports_errors
def command(config_path: Path | None, since: dt.datetime | None, until: dt.datetime | None,
            last: str | None, engine: str | None, fmt: str,
            output: Path | None) -> None:
    """Every active query with its promotion verdict, and the UDRs proposed for retirement."""
    project = open_project(config_path, engine)
    window = project_window(project, as_date(since), as_date(until), last)
    review = build_review(project, window, with_details=fmt in ("markdown", "html"))
    if fmt == "json":
        emit(report.to_json(dossier.as_json(review)), output)
    elif fmt == "markdown":
        emit(dossier.markdown(review), output)
    elif fmt == "html":
        emit(html_report.html(review), output)
    else:
        out = console()
        for renderable in dossier.terminal(review):
            out.print(renderable)


@click.command(name="promote")
@click.argument("query_id")
@click.option("--reviewer", required=True, help="Who approves the promotion (recorded).")
@click.option("--new-id", help="Id of the new UDR (default: the next UDR-NNNN).")
@click.option("--national", is_flag=True, help="Drop the query's port conditions (its national projection).")
@click.option("--override", is_flag=True, help="Promote although the policy is not met (needs --reason).")
@click.option("--reason", help="Why the policy is overridden (recorded in the ledger).")
@config_option
@window_options
@engine_option
@reports_errors
def promote_command(query_id: str, reviewer: str, new_id: str | None, national: bool,
                    override: bool, reason: str | None, config_path: Path | None,
                    since: dt.datetime | None, until: dt.datetime | None, last: str | None,
                    engine: str | None) -> None:
    """Convert a query that meets the policy into a UDR, with an auditable record."""
    if override and not reason:
        raise click.UsageError("--override needs --reason TEXT saying why the policy is set aside")
    if reason and not override:
        raise click.UsageError("--reason is only used with --override")
    project = open_project(config_path, engine)
    window = project_window(project, as_date(since), as_date(until), last)
    change = promote(project, window, query_id, reviewer, new_id=new_id, national=national,
                     override_reason=reason if override else None)
    for path in change.written:
        click.echo(f"wrote {path}", err=True)
    click.echo(f"promoted {query_id}: ledger entry {change.entry.seq}", err=True)


@click.command(name="retire")
@click.argument("udr_id")
@click.option("--reviewer", required=True, help="Who approves the retirement (recorded).")
@click.option("--reason", required=True, help="Why the UDR retires (recorded).")
@config_option
@reports_errors
def retire_command(udr_id: str, reviewer: str, reason: str, config_path: Path | None) -> None:
    """Set a UDR's status to retired, with who, when and why, and record it in the ledger."""
    project = open_project(config_path)
    change = retire(project, udr_id, reviewer, reason)
    for path in change.written:
        click.echo(f"wrote {path}", err=True)
    click.echo(f"retired {udr_id}: ledger entry {change.entry.seq}", err=True)


commands = [command, promote_command, retire_command]
