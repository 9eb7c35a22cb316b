"""`targeting candidates`, `promote` and `retire`: the NTC's review loop."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from targeting.backtest.run import project_window
from targeting.cli.common import (
    Selection,
    as_date,
    config_option,
    emit,
    engine_option,
    output_options,
    report_change,
    reports_errors,
    selection_options,
    window_options,
)
from targeting.decide.promotion import ledger_path, promote, retire
from targeting.decide.review import build_review
from targeting.project import open_project
from targeting.render import dossier
from targeting.render import formats as report
from targeting.render import html as html_report
from targeting.render.change import dry_run_text
from targeting.render.terminal import console


@click.command(name="candidates")
@config_option
@window_options
@engine_option
@output_options(["table", "json", "markdown", "html"],
                "Output format; markdown and html are the review dossier.")
@selection_options
@reports_errors
def command(config_path: Path | None, since: dt.datetime | None, until: dt.datetime | None,
            last: str | None, engine: str | None, fmt: str,
            output: Path | None, selection: Selection) -> None:
    """Every active query with its promotion verdict, and the UDRs proposed for retirement."""
    project = open_project(config_path, engine)
    window = project_window(project, as_date(since), as_date(until), last)
    review = build_review(project, window, with_details=fmt in ("markdown", "html"),
                          selection=selection)
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
@click.option("--dry-run", is_flag=True,
              help="Print the files and the ledger entry it would write; write nothing.")
@config_option
@window_options
@engine_option
@reports_errors
def promote_command(query_id: str, reviewer: str, new_id: str | None, national: bool,
                    override: bool, reason: str | None, dry_run: bool, config_path: Path | None,
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
                     override_reason=reason if override else None, dry_run=dry_run)
    if dry_run:
        click.echo(dry_run_text(change, ledger_path(project)))
        return
    report_change(change, f"promoted {change.entry.subject} as {change.entry.details['udr']}")


@click.command(name="retire")
@click.argument("udr_id")
@click.option("--reviewer", required=True, help="Who approves the retirement (recorded).")
@click.option("--reason", required=True, help="Why the UDR retires (recorded).")
@click.option("--override", is_flag=True,
              help="Retire although the policy does not propose it (recorded as an exception).")
@click.option("--dry-run", is_flag=True,
              help="Print the file and the ledger entry it would write; write nothing.")
@config_option
@window_options
@engine_option
@reports_errors
def retire_command(udr_id: str, reviewer: str, reason: str, override: bool, dry_run: bool,
                   config_path: Path | None, since: dt.datetime | None, until: dt.datetime | None,
                   last: str | None, engine: str | None) -> None:
    """Retire a UDR the policy proposes (or, with --override, any active UDR), with who, when
    and why, and record it in the ledger."""
    project = open_project(config_path, engine)
    window = project_window(project, as_date(since), as_date(until), last)
    change = retire(project, window, udr_id, reviewer, reason, override=override, dry_run=dry_run)
    if dry_run:
        click.echo(dry_run_text(change, ledger_path(project)))
        return
    report_change(change, f"retired {change.entry.subject}")


commands = [command, promote_command, retire_command]
