"""The library API: what a notebook user calls. Each function opens the project (or takes an
open one), accepts dates as `date` or ISO strings and rules as paths or ids, and returns data:
Polars DataFrames or dataclasses."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from targeting.backtest.run import backtest, project_window, ranked_scoreboard
from targeting.backtest.window import DateLike
from targeting.compile.check import check_rules
from targeting.compile.english import describe
from targeting.compile.polars_expr import compile_polars
from targeting.compile.readable import readable_sql
from targeting.data.catalogue import field_catalogue
from targeting.data.config import load_config
from targeting.data.lists import load_lists
from targeting.decide import coverage as _coverage
from targeting.decide import replay as _replay
from targeting.decide.coverage import Coverage
from targeting.decide.inspect import RuleReport, inspect_rule
from targeting.decide.replay import Replay
from targeting.decide.review import Review, build_review
from targeting.errors import TargetingError
from targeting.project import Project, default_paths, open_project
from targeting.rules import loader
from targeting.rules.loader import parse_rules
from targeting.rules.model import Rule

ConfigLike = str | Path | Project | None


def _project(config: ConfigLike) -> Project:
    return config if isinstance(config, Project) else open_project(config)


def evaluate(rules: Sequence[str | Path] | None = None, *, config: ConfigLike = None,
             since: DateLike | None = None, until: DateLike | None = None,
             last: str | None = None) -> pl.DataFrame:
    """The scoreboard of the rules given as paths or ids (default: every configured rule),
    one row per rule with every metric of docs/metrics.md, highest lift first."""
    project = _project(config)
    chosen = project.select(rules)
    run = backtest(project, chosen, project_window(project, since, until, last))
    board = ranked_scoreboard(run)
    run.close()
    return board


def test(rule: str | Path, *, config: ConfigLike = None, since: DateLike | None = None,
         until: DateLike | None = None, last: str | None = None,
         all_matches: bool = False) -> RuleReport:
    """One rule (a file or an id) as an officer sees it: its metrics (the fields of an
    `evaluate` row), monthly and by-port series, overlaps, sample shipments and its verdict."""
    project = _project(config)
    return inspect_rule(project, rule, project_window(project, since, until, last), all_matches)


test.__test__ = False  # type: ignore[attr-defined]  # pytest: not a test function


def candidates(*, config: ConfigLike = None, since: DateLike | None = None,
               until: DateLike | None = None, last: str | None = None,
               details: bool = False) -> Review:
    """The NTC's review: every active query's verdict with its criteria, strongest first, and
    the UDRs proposed for retirement (`details`: each promotable query's full report too)."""
    project = _project(config)
    return build_review(project, project_window(project, since, until, last), details)


def replay(*, config: ConfigLike = None, every: str = "1m", since: DateLike | None = None,
           until: DateLike | None = None) -> Replay:
    """The policy run at every cut-off from `since` to `until`, each promotion and retirement
    it would have made with what it promised and what the rest of the history delivered."""
    return _replay.replay(_project(config), every, since, until)


def load_rules(paths: Sequence[str | Path]) -> list[Rule]:
    """Parse rule files or folders (no data needed); RuleError lists every problem."""
    return loader.load_rules([Path(p) for p in paths])


def coverage(*, config: ConfigLike = None, since: DateLike | None = None,
             until: DateLike | None = None, last: str | None = None) -> Coverage:
    """What the programme misses: the estimated share of all violations no active UDR (or no
    rule) matches (`.missed`), the observed split of the recorded discrepant shipments by who
    matched them (`.table`), and outcome recording per port (`.recording`)."""
    project = _project(config)
    return _coverage.coverage_of(project, project_window(project, since, until, last))


def compile_rule(rule_ref: str, target: str = "sql", config: str | Path | None = None,
                 inline: bool = False) -> str:
    """A rule (file or id) compiled to `target` (sql, polars or english); TargetingError when it
    cannot be found (exit 2) or is invalid (exit 1). SQL is formatted for reading, its values
    listed after it, or with `inline` written in as literals (compile/readable.py)."""
    path = Path(rule_ref)
    if target == "english" and path.is_file() and config is None:
        return describe(_one(rule_ref, *parse_rules([path])).where)  # no data needed
    loaded = load_config(Path(config) if config is not None else None)
    catalogue, lists = field_catalogue(loaded), load_lists(loaded)
    rules, problems = check_rules([path] if path.is_file() else default_paths(loaded),
                                  catalogue, lists, loaded.priorities or None,
                                  limits=loaded.limits)
    rule = _one(rule_ref, rules, problems)
    if target == "english":
        return describe(rule.where)
    if target == "polars":
        return str(compile_polars(rule.where, lists, catalogue))
    return readable_sql(rule.where, catalogue, f"{rule.id}: {rule.title}", inline)


def _one(rule_ref: str, rules: list[Rule], problems: list[Any]) -> Rule:
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
        return rule_id.encode() in Path(path).read_bytes()
    except OSError:
        return False


class RuleCompileError(TargetingError):
    """The rule asked for is missing (exit 2) or invalid (exit 1)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
