"""`targeting gate`: the CI check on a branch's rule and query changes (docs/gate.md)."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from targeting.gate.base import read_base
from targeting.gate.cache import Cache
from targeting.gate.changes import find_changes, repo_top, resolve_base
from targeting.gate.context import GateContext
from targeting.gate.judge import judge
from targeting.gate.result import GateResult
from targeting.project import Project


def run_gate(project: Project, base_ref: str | None = None, *, use_cache: bool = True,
             fail_on_warnings: bool | None = None, since: dt.date | None = None,
             until: dt.date | None = None, last: str | None = None) -> GateResult:
    """Judge the rule and query changes between `base_ref`'s merge base and the working tree,
    by the base's settings, folders and data configuration."""
    top = repo_top(project.config.root)
    ref, commit = resolve_base(top, base_ref)
    base = read_base(top, commit, project.config)
    judged = project
    if base.config is not None and base.settings_hash != project.config.settings_hash:
        judged = Project(base.config, project.engine)
    settings = judged.config.gate
    folders = list(dict.fromkeys([*judged.rule_paths, *project.rule_paths]))
    changes = find_changes(top, folders, ref, commit)
    gate = GateContext(judged, settings, changes, Cache(project.config.root, use_cache),
                       head=project.config, base=base)
    with tempfile.TemporaryDirectory(prefix="targeting-gate-") as folder:
        gate.load(Path(folder), folders)
        window = gate.window(since, until, last or settings.last)
        result = judge(gate, window)
    result.fail_on_warnings = settings.fail_on_warnings if fail_on_warnings is None else fail_on_warnings
    result.cache_hits, result.cache_misses = gate.cache.hits, gate.cache.misses
    return result
