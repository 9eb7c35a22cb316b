"""`targeting validate`: check rule files against the data's fields and run their examples."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from targeting.cli.common import Selection, reports_errors, selection_options, write_atomic
from targeting.data.config import load_config
from targeting.project import check_files, selected_files
from targeting.render.problems import problems_github, problems_json, problems_text, summary_line
from targeting.render.sarif import codequality as codequality_report
from targeting.render.sarif import problem_findings, problems_sarif


@click.command(name="validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="targeting.yaml to use (default: found from the working folder upwards).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Output format; github prints workflow annotations.")
@click.option("--sarif", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the problems as SARIF 2.1.0 (for code scanning) to this file.")
@click.option("--codequality", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the problems as a GitLab Code Quality report to this file.")
@selection_options
@reports_errors
def command(paths: tuple[Path, ...], config_path: Path | None, fmt: str, sarif: Path | None,
            codequality: Path | None, selection: Selection) -> None:
    """Check rule files (default: the configured rule and query folders); exit 1 on errors."""
    config = load_config(config_path)
    rules, problems = check_files(config, selected_files(config, list(paths), selection))
    if sarif is not None:
        write_atomic(sarif, problems_sarif(problems))
    if codequality is not None:
        write_atomic(codequality, codequality_report(problem_findings(problems)))
    if fmt == "json":
        click.echo(problems_json(problems, len(rules)))
    elif problems:
        click.echo(problems_github(problems) if fmt == "github" else problems_text(problems))
    if fmt == "text":
        click.echo(summary_line(problems, len(rules)), err=True)
    sys.exit(1 if any(p.severity == "error" for p in problems) else 0)
