"""`targeting gate`: the CI check on a branch's rule and query changes (docs/gate.md)."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from targeting.data.config import display_path
from targeting.gate.cache import Cache
from targeting.gate.changes import find_changes, repo_top
from targeting.gate.context import GateContext
from targeting.gate.judge import judge
from targeting.gate.result import GateResult
from targeting.gate.settings import load_settings
from targeting.project import Project


def run_gate(project: Project, base_ref: str | None = None, *, use_cache: bool = True,
             fail_on_warnings: bool | None = None, since: dt.date | None = None,
             until: dt.date | None = None, last: str | None = None) -> GateResult:
    """Judge the rule and query changes between `base_ref`'s merge base and the working tree."""
    settings = load_settings(project.config.gate, display_path(project.config.path))
    top = repo_top(project.config.root)
    changes = find_changes(top, project.rule_paths, base_ref)
    gate = GateContext(project, settings, changes, Cache(project.config.root, use_cache))
    with tempfile.TemporaryDirectory(prefix="targeting-gate-") as folder:
        gate.load(Path(folder))
        window = gate.window(since, until, last or settings.last)
        result = judge(gate, window)
    result.fail_on_warnings = settings.fail_on_warnings if fail_on_warnings is None else fail_on_warnings
    result.cache_hits, result.cache_misses = gate.cache.hits, gate.cache.misses
    return result
