"""`targeting validate`: check rule files against the data's fields and run their examples."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from targeting.compile.check import check_rules, outcome_problems
from targeting.data.catalogue import field_catalogue
from targeting.data.config import Config, load_config
from targeting.data.lists import load_lists
from targeting.errors import Problem, TargetingError
from targeting.project import outcome_fields
from targeting.rules.model import Catalogue


def rule_context(config: Config) -> tuple[Catalogue, dict[str, frozenset[str]]]:
    """The field catalogue and named lists rules are checked against (no rows read)."""
    return field_catalogue(config), load_lists(config)


def default_paths(config: Config) -> list[Path]:
    """The configured rule and query folders that exist."""
    return [p for p in (*config.rule_dirs, *config.query_dirs) if p.exists()]


@click.command(name="validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="targeting.yaml to use (default: found from the working folder upwards).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Output format; github prints workflow annotations.")
def command(paths: tuple[Path, ...], config_path: Path | None, fmt: str) -> None:
    """Check rule files (default: the configured rule and query folders); exit 1 on errors."""
    try:
        config = load_config(config_path)
        catalogue, lists = rule_context(config)
        rules, problems = check_rules(list(paths) or default_paths(config), catalogue, lists,
                                      config.priorities or None)
        problems += outcome_problems(rules, outcome_fields(config))
    except TargetingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    _print(problems, len(rules), fmt)
    sys.exit(1 if any(p.severity == "error" for p in problems) else 0)


def _print(problems: list[Problem], valid: int, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({"valid_rules": valid, "problems": [_as_dict(p) for p in problems]},
                              indent=2))
        return
    for problem in problems:
        click.echo(_github(problem) if fmt == "github" else str(problem))
    if fmt == "text":
        errors = sum(p.severity == "error" for p in problems)
        summary = f"{valid} rule(s) valid, {errors} error(s), {len(problems) - errors} warning(s)"
        click.echo(summary, err=True)


def _as_dict(problem: Problem) -> dict[str, Any]:
    loc = problem.location
    return {"path": loc.path if loc else None, "line": loc.line if loc else None,
            "column": loc.column if loc else None, "severity": problem.severity,
            "code": problem.code, "message": problem.message}


def _github(problem: Problem) -> str:
    """A GitHub Actions workflow command; the message escaped as the runner expects."""
    message = f"[{problem.code}] {problem.message}"
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    level = "error" if problem.severity == "error" else "warning"
    loc = problem.location
    if loc is None:
        return f"::{level}::{message}"
    path = loc.path.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
    return f"::{level} file={path},line={loc.line},col={loc.column}::{message}"
