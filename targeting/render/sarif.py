"""Findings as SARIF 2.1.0 (code scanning: GitHub, GitLab, Azure): one run of the tool, a
rule per problem code with its explanation (targeting/codes.py), a result per finding."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from targeting._version import __version__
from targeting.codes import explain
from targeting.errors import Problem
from targeting.render.escape import plain

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "fail": "error", "warning": "warning", "warn": "warning"}


@dataclass(frozen=True)
class Finding:
    """One result: its rule id (a problem code or a gate check), level, message and place."""

    rule: str
    level: str  # error, warning or note
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None


def problems_sarif(problems: Iterable[Problem]) -> str:
    """`validate --sarif`: each problem as a result at its file, line and column."""
    return sarif([Finding(p.code, LEVELS.get(p.severity, "note"), p.message,
                          p.location.path if p.location else None,
                          p.location.line if p.location else None,
                          p.location.column if p.location else None) for p in problems])


def sarif(findings: list[Finding]) -> str:
    """The SARIF document of `findings`."""
    rules = sorted({f.rule for f in findings})
    doc = {"$schema": SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "targeting", "version": __version__,
                            "rules": [_rule(r) for r in rules]}},
        "results": [_result(f, rules.index(f.rule)) for f in findings],
    }]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _rule(rule_id: str) -> dict[str, Any]:
    code = explain(rule_id)
    rule: dict[str, Any] = {"id": rule_id, "name": rule_id.replace("-", " ")}
    if code is not None:
        rule["shortDescription"] = {"text": code.meaning}
        rule["help"] = {"text": f"{code.meaning} How to fix it: {code.fix} "
                                f"(targeting explain {rule_id})"}
    return rule


def _result(f: Finding, index: int) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": f.rule, "ruleIndex": index, "level": f.level,
                              "message": {"text": plain(f.message)}}
    if f.path:
        region = {"startLine": max(f.line or 1, 1)}
        if f.column:
            region["startColumn"] = max(f.column, 1)
        result["locations"] = [{"physicalLocation": {
            "artifactLocation": {"uri": PurePath(f.path).as_posix()}, "region": region}}]
    return result
