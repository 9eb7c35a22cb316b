"""What the gate compares: both sides' rule files, validated, and their metrics (cached)."""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from targeting.backtest.window import Window
from targeting.data.config import Config
from targeting.data.settings import GateSettings
from targeting.errors import Problem
from targeting.gate.base import Base
from targeting.gate.cache import Cache, cache_key, data_fingerprint
from targeting.gate.changes import Changes, base_files
from targeting.gate.result import METRICS, Check
from targeting.project import Project
from targeting.rules.limits import RuleLimits
from targeting.rules.loader import parse_rules, rule_files
from targeting.rules.model import Rule


@dataclass
class _Side:
    """The rule files of one side (base or working tree): parsed rules by repo-relative path."""

    rules: dict[str, Rule]
    problems: list[Problem]
    rel: dict[str, str]  # a Rule.path / Problem location path -> repo-relative path

    def by_id(self, paths: Sequence[str] | None = None) -> dict[str, Rule]:
        chosen = self.rules if paths is None else {p: self.rules[p] for p in paths if p in self.rules}
        return {rule.id: rule for rule in chosen.values()}


class GateContext:
    """Both sides of a branch, judged with `project`: the base's settings, folders and data
    configuration (`head` is the working tree's configuration, `base` what the base says)."""

    def __init__(self, project: Project, settings: GateSettings, changes: Changes, cache: Cache,
                 head: Config | None = None, base: Base | None = None):
        self.project, self.settings, self.changes, self.cache = project, settings, changes, cache
        self.head = head or project.config
        self.base = base or Base(changes.base, project.config, b"", None)
        self.fingerprint = data_fingerprint(project.config)
        self.checks: list[Check] = []
        self._typed: dict[str, Rule] = {}

    # --------------------------------------------------------------------------- loading

    def load(self, folder: Path, folders: Sequence[Path] | None = None) -> None:
        """Parse the working tree's rule files under `folders` (default: the project's) and the
        base versions of those the branch changed or removed."""
        top = self.changes.top
        chosen = self.project.rule_paths if folders is None else folders
        current = list(dict.fromkeys(rule_files([f for f in chosen if f.is_dir()])))
        limits = self.project.config.limits
        self.now = _side(current, {os.path.abspath(p): _rel(p, top) for p in current}, limits)
        written = base_files(self.changes, list(self.changes.modified + self.changes.deleted), folder)
        self.before = _side(list(written), {os.path.abspath(p): rel for p, rel in written.items()},
                            limits)
        self.now_problems = self._validate(self.now)
        self.before_problems = self._validate(self.before)

    def _validate(self, side: _Side) -> dict[str, list[Problem]]:
        """Problems per repo-relative path: parse problems plus validation (cached per rule)."""
        found: dict[str, list[Problem]] = {}
        for problem in side.problems:
            path = side.rel.get(os.path.abspath(problem.location.path)) if problem.location else None
            found.setdefault(path or "?", []).append(_relocate(problem, path))
        for path, rule in side.rules.items():
            found.setdefault(path, []).extend(_relocate(p, path) for p in self._rule_problems(rule))
        return found

    def _rule_problems(self, rule: Rule) -> list[Problem]:
        key = cache_key(rule=rule.content_hash, data=self.fingerprint,
                        priorities=list(self.project.config.priorities))
        cached = self.cache.get("validate", key)
        if cached is not None:
            return [Problem.from_dict(p) for p in cached]
        _, problems = self._validate_now(rule)
        self.cache.put("validate", key, [p.to_dict() for p in problems])
        return problems

    def _validate_now(self, rule: Rule) -> tuple[Rule | None, list[Problem]]:
        from targeting.compile.check import validate_rules

        dataset = self.project.dataset
        typed, problems = validate_rules([rule], dataset.catalogue, dataset.lists,
                                         self.project.config.priorities or None)
        if typed:
            self._typed[rule.content_hash] = typed[0]
        return (typed[0] if typed else None), problems

    def typed(self, rule: Rule) -> Rule | None:
        if rule.content_hash not in self._typed:
            self._validate_now(rule)
        return self._typed.get(rule.content_hash)

    # --------------------------------------------------------------------------- backtests

    def window(self, since: dt.date | None, until: dt.date | None, last: str | None) -> Window:
        key = cache_key(range_of=self.fingerprint)
        span = self.cache.get("range", key)
        if span is None:
            first, latest = self.project.dataset.arrival_range()
            span = [str(first) if first else None, str(latest) if latest else None]
            self.cache.put("range", key, span)
        first, latest = (dt.date.fromisoformat(d) if d else None for d in span)
        return Window.resolve(first, latest, since, until, last)

    def reference(self) -> list[Rule]:
        """Active UDRs of the working tree that validate: what uniqueness is measured against."""
        return [r for path, r in sorted(self.now.rules.items()) if r.kind == "udr" and r.is_active
                and not _errors(self.now_problems.get(path, []))]

    def metrics(self, rules: list[Rule], window: Window) -> dict[str, dict[str, Any]]:
        """Metrics per rule id (content hash of the rule decides the cache entry)."""
        reference = self.reference()
        ref_digest = cache_key(reference=sorted((r.id, r.content_hash) for r in reference))
        keys = {r.content_hash: cache_key(rule=r.content_hash, reference=ref_digest,
                                          data=self.fingerprint, window=window.as_dict(),
                                          metrics=METRICS,
                                          estimate=self.project.config.promotion.estimate)
                for r in rules}
        rows: dict[str, dict[str, Any]] = {}
        missing = []
        for rule in rules:
            cached = self.cache.get("backtest", keys[rule.content_hash])
            if isinstance(cached, dict):
                rows[rule.id] = cached
            else:
                missing.append(rule)
        if missing:
            for rule, row in zip(missing, self._backtest(missing, reference, window)):
                if self._same_data():
                    self.cache.put("backtest", keys[rule.content_hash], row)
                rows[rule.id] = row
        return rows

    def differences(self, after: Rule, before: Rule, window: Window) -> dict[str, dict[str, int]]:
        """What a changed rule newly targets (`new`) and no longer targets (`dropped`): counts of
        shipments, of those ever examined, and of those found discrepant. Cached like metrics."""
        key = cache_key(difference=[after.content_hash, before.content_hash],
                        data=self.fingerprint, window=window.as_dict())
        cached = self.cache.get("difference", key)
        if isinstance(cached, dict):
            return {str(k): dict(v) for k, v in cached.items()}
        from targeting.backtest.run import backtest

        typed = [self.typed(after), self.typed(before)]
        assert typed[0] is not None and typed[1] is not None, "only rules that validate"
        run = backtest(self.project, [typed[0], typed[1]], window, [])
        found = {"new": run.difference(0, 1), "dropped": run.difference(1, 0)}
        run.close()
        if self._same_data():
            self.cache.put("difference", key, found)
        return found

    def _same_data(self) -> bool:
        """Whether the data backtested is the data the cache keys name: a file changed during
        the run must not store new numbers under the old fingerprint (or old under new)."""
        return self.project.dataset.fingerprint == self.fingerprint

    def verdict(self, query: Rule, window: Window, reference: list[Rule]) -> list[str] | None:
        """The criteria the query fails under the judged policy over `window` (the evidence
        window its promotion recorded), measured against `reference`; None when it does not
        validate. Cached like the backtests."""
        from targeting.decide.policy import evidence_plan, evidence_start, review_size, verdicts_from
        from targeting.decide.versions import Versions

        policy = self.project.config.promotion
        # The predicate must have reached the base (or its ledger): history on the branch alone
        # does not count.
        versions = Versions(self.project.config, rev=self.changes.base)
        start = evidence_start(query, window, policy, versions)
        key = cache_key(verdict=query.content_hash, policy=policy.hash, data=self.fingerprint,
                        window=window.as_dict(), start=[start.day, start.source],
                        reference=sorted((r.id, r.content_hash) for r in reference))
        cached = self.cache.get("verdict", key)
        if isinstance(cached, list):
            return [str(name) for name in cached]
        typed = self.typed(query)
        if typed is None:
            return None
        from targeting.backtest.run import backtest

        plan = evidence_plan([typed], window, policy, versions)
        typed_ref = [t for t in (self.typed(r) for r in reference) if t is not None]
        run = backtest(self.project, plan.rules(), window, typed_ref, starts=plan.start_dates())
        verdict = verdicts_from(run, plan, policy, review_size(self.project))[0]
        failing = [c.name for c in verdict.failing]
        run.close()
        if self._same_data():
            self.cache.put("verdict", key, failing)
        return failing

    def proposed_retirements(self, udrs: list[Rule], window: Window) -> dict[str, list[str]]:
        """The judged policy's retirement proposals among `udrs` over `window`: id -> reasons."""
        policy = self.project.config.promotion
        key = cache_key(retire=sorted((r.id, r.content_hash) for r in udrs), policy=policy.hash,
                        data=self.fingerprint, window=window.as_dict())
        cached = self.cache.get("retire", key)
        if isinstance(cached, dict):
            return {str(k): list(v) for k, v in cached.items()}
        from targeting.decide.retirement import retirements

        typed = [t for t in (self.typed(r) for r in udrs) if t is not None]
        proposed = {r.rule.id: r.reasons for r in retirements(self.project, window, policy, typed)}
        if self._same_data():
            self.cache.put("retire", key, proposed)
        return proposed

    def _backtest(self, rules: list[Rule], reference: list[Rule], window: Window) -> list[dict[str, Any]]:
        from targeting.backtest.run import backtest
        from targeting.decide.policy import population_rate

        typed_ref = [t for t in (self.typed(r) for r in reference) if t is not None]
        typed = [t for t in (self.typed(r) for r in rules) if t is not None]
        assert len(typed) == len(rules), "only rules that validate are backtested"
        run = backtest(self.project, typed, window, typed_ref)
        board = run.scoreboard_rows()
        base = population_rate(run.baseline)
        return [{**{k: row[k] for k in METRICS}, "baseline_hit_rate": base} for row in board]



def _side(paths: list[Path], rel: dict[str, str], limits: RuleLimits | None = None) -> _Side:
    rules, problems = parse_rules(paths, limits)
    by_path = {rel[os.path.abspath(r.path)]: r for r in rules}
    return _Side(by_path, problems, rel)


def _rel(path: Path, top: Path) -> str:
    full, top = Path(path).resolve(), top.resolve()
    return full.relative_to(top).as_posix() if full.is_relative_to(top) else str(path)


def _relocate(problem: Problem, path: str | None) -> Problem:
    """The problem with its location shown as the repository-relative path."""
    if problem.location is None or path is None:
        return problem
    loc = problem.location
    return Problem(problem.code, problem.message, type(loc)(path, loc.line, loc.column),
                   problem.severity)


def _errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
