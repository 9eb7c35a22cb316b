"""Findings for code scanning: SARIF 2.1.0 (GitHub, Azure; one run of the tool, a rule per
problem code with its explanation from targeting/codes.py, a result per finding) and GitLab's
Code Quality report (a JSON list of issues)."""
from __future__ import annotations

import hashlib
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


def problem_findings(problems: Iterable[Problem]) -> list[Finding]:
    """Each problem as a finding at its file, line and column."""
    return [Finding(p.code, LEVELS.get(p.severity, "note"), p.message,
                    p.location.path if p.location else None,
                    p.location.line if p.location else None,
                    p.location.column if p.location else None) for p in problems]


def problems_sarif(problems: Iterable[Problem]) -> str:
    """`validate --sarif`: each problem as a result at its file, line and column."""
    return sarif(problem_findings(problems))


def codequality(findings: list[Finding]) -> str:
    """GitLab's Code Quality report: one issue per finding, with a stable fingerprint (rule,
    file, line and message), so a merge request shows what it adds and fixes."""
    severity = {"error": "major", "warning": "minor", "note": "info"}
    issues = []
    for f in findings:
        key = f"{f.rule}\0{f.path}\0{f.line}\0{f.message}".encode()
        issues.append({"description": plain(f.message), "check_name": f.rule,
                       "fingerprint": hashlib.sha256(key).hexdigest(),
                       "severity": severity.get(f.level, "info"),
                       "location": {"path": PurePath(f.path or ".").as_posix(),
                                    "lines": {"begin": max(f.line or 1, 1)}}})
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"


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
