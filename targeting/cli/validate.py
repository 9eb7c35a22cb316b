"""`targeting validate`: check rule files against the data's fields and run their examples."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from targeting.compile.check import check_rules, outcome_problems
from targeting.data.config import Config, load_config
from targeting.errors import Problem, TargetingError
from targeting.project import outcome_fields
from targeting.rules.model import Catalogue


def rule_context(config: Config) -> tuple[Catalogue, dict[str, frozenset[str]]]:
    """The field catalogue and named lists rules are checked against.

    Only the manifest's columns and types matter here, so the exam data and the data-contract
    checks are not needed: a broken exams file should not stop anyone checking rules.
    """
    from targeting.data import dataset as data

    lists = data.load_lists(config)
    quick = getattr(data, "field_catalogue", None)  # preferred, when the data module offers it
    if quick is not None:
        return quick(config), lists
    return _parquet_catalogue(config) or _staged_catalogue(config), lists


def _parquet_catalogue(config: Config) -> Catalogue | None:
    """Field types from the manifest's parquet schema alone (no rows read), or None."""
    import glob

    import duckdb

    from targeting.data import dataset as data

    pattern = config.data.manifest.pattern
    paths = sorted(glob.glob(pattern or "", recursive=True))
    if not paths or not all(p.lower().endswith(".parquet") for p in paths):
        return None
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute("DESCRIBE SELECT * FROM read_parquet(?, union_by_name=true)",
                           [paths]).fetchall()
    finally:
        con.close()
    mapping = config.data.columns.get("manifest", {})
    catalogue: dict[str, Any] = {}
    for source, kind, *_ in rows:
        name = mapping.get(source, data.snake_case(source))
        if name in config.data.values:  # value-mapped columns become text (see data._value_mapped)
            kind = "VARCHAR"
        kind = data.MANIFEST_COLUMNS.get(name, kind)
        field_type = data.CATALOGUE_TYPES.get(kind) or ("number" if data.NUMERIC.match(kind) else None)
        if field_type is not None:
            catalogue[name] = field_type
    return catalogue


def _staged_catalogue(config: Config) -> Catalogue:
    """Manifest field types as `data.materialise` would give them, without typing the data."""
    from targeting.data import dataset as data

    staged = data.stage(config)
    try:
        catalogue: dict[str, Any] = {}
        for name, kind in staged.columns("manifest").items():
            if name in data.MANIFEST_COLUMNS:
                kind = data.MANIFEST_COLUMNS[name]
            elif staged.from_text["manifest"]:
                kind = data.infer_text_type(staged.con, "_src_manifest", name)
            field_type = data.CATALOGUE_TYPES.get(kind) or ("number" if data.NUMERIC.match(kind) else None)
            if field_type is not None:
                catalogue[name] = field_type
        return catalogue
    finally:
        staged.con.close()


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
