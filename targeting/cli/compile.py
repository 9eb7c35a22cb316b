"""`targeting compile`: show what one rule becomes in SQL, Polars or plain English."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from targeting.cli.validate import default_paths, rule_context
from targeting.compile.check import check_rules
from targeting.compile.english import describe
from targeting.compile.polars_expr import compile_polars
from targeting.compile.sql import compile_sql
from targeting.data.config import load_config
from targeting.errors import TargetingError
from targeting.rules.loader import parse_rules
from targeting.rules.model import Rule


@click.command(name="compile")
@click.argument("rule")
@click.option("--to", "target", type=click.Choice(["sql", "polars", "english"]), default="sql",
              show_default=True, help="What to print.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="targeting.yaml to use (default: found from the working folder upwards).")
def command(rule: str, target: str, config_path: Path | None) -> None:
    """Print RULE (a rule file, or an id in the configured folders) as SQL, Polars or English."""
    try:
        click.echo(render(rule, target, config_path))
    except TargetingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def render(rule_ref: str, target: str, config_path: Path | None) -> str:
    """The rule compiled to `target`; TargetingError when it cannot be found or is invalid."""
    path = Path(rule_ref)
    if target == "english" and path.is_file() and config_path is None:
        return describe(_one(rule_ref, *parse_rules([path])).where)  # no data needed
    config = load_config(config_path)
    catalogue, lists = rule_context(config)
    rules, problems = check_rules([path] if path.is_file() else default_paths(config),
                                  catalogue, lists, config.priorities or None)
    rule = _one(rule_ref, rules, problems)
    if target == "english":
        return describe(rule.where)
    if target == "polars":
        return str(compile_polars(rule.where, lists, catalogue))
    sql, params = compile_sql(rule.where, catalogue)
    return f"{sql}\n-- params: {json.dumps(params, default=str, ensure_ascii=False)}"


def _one(rule_ref: str, rules: list[Rule], problems: list) -> Rule:
    path = Path(rule_ref)
    wanted = [r for r in rules if (Path(r.path).resolve() == path.resolve() if path.is_file()
                                   else r.id == rule_ref)]
    if wanted:
        return wanted[0]
    errors = [str(p) for p in problems if p.severity == "error"
              and (p.location is None or path.is_file() or rule_ref in p.message
                   or _file_has_id(p.location.path, rule_ref))]
    if errors:
        raise RuleCompileError("\n".join(errors), 1)
    raise RuleCompileError(f"no rule {rule_ref!r}: not a file, and no rule with that id in the "
                           "configured rule and query folders. Try `targeting validate`.", 2)


def _file_has_id(path: str, rule_id: str) -> bool:
    try:
        return rule_id in Path(path).read_text(encoding="utf-8")
    except OSError:
        return False


class RuleCompileError(TargetingError):
    """The rule asked for is missing (exit 2) or invalid (exit 1)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
