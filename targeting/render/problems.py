"""Problems found in rule files, written as text, JSON or GitHub workflow annotations."""
from __future__ import annotations

import json
from typing import Any

from targeting.errors import Problem
from targeting.render.escape import github, github_property, one_line
from targeting.units import plural


def problems_text(problems: list[Problem]) -> str:
    """One `path:line:col: severity[code]: message` line per problem."""
    return "\n".join(one_line(p) for p in problems)


def summary_line(problems: list[Problem], valid: int) -> str:
    errors = sum(p.severity == "error" for p in problems)
    return (f"{plural(valid, 'rule')} valid, {plural(errors, 'error')}, "
            f"{plural(len(problems) - errors, 'warning')}")


def problems_json(problems: list[Problem], valid: int) -> str:
    return json.dumps({"valid_rules": valid, "problems": [as_dict(p) for p in problems]}, indent=2)


def as_dict(problem: Problem) -> dict[str, Any]:
    loc = problem.location
    return {"path": loc.path if loc else None, "line": loc.line if loc else None,
            "column": loc.column if loc else None, "severity": problem.severity,
            "code": problem.code, "message": problem.message}


def problems_github(problems: list[Problem]) -> str:
    """GitHub Actions workflow commands; messages escaped as the runner expects."""
    return "\n".join(_github(p) for p in problems)


def _github(problem: Problem) -> str:
    message = github(f"[{problem.code}] {problem.message}")
    level = "error" if problem.severity == "error" else "warning"
    loc = problem.location
    if loc is None:
        return f"::{level}::{message}"
    return f"::{level} file={github_property(loc.path)},line={loc.line},col={loc.column}::{message}"
