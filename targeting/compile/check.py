"""Validate rules: typed against the data's catalogue and lists (rules.validate), patterns
that compile alike in every backend (compile.regex), and examples that hold in both compilers
(compile.examples)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from targeting.cache import Cache, cache_key
from targeting.canonical import digest
from targeting.compile.regex import regex_problem
from targeting.errors import Problem
from targeting.rules.limits import RuleLimits
from targeting.rules.loader import parse_rules
from targeting.rules.model import Catalogue, Rule, leaves
from targeting.rules.validate import Lists, outcome_problems, type_rule
from targeting.rules.values import value_problems

Vocabulary = Mapping[str, Sequence[str]]  # field -> the values it holds (data/values.py)

__all__ = ["check_rules", "outcome_problems", "validate_rules"]


def check_rules(paths: Iterable[Path], catalogue: Catalogue, lists: Lists,
                priorities: Iterable[str] | None = None, run_examples: bool = True,
                cache: Cache | None = None, limits: RuleLimits | None = None,
                values: Vocabulary | None = None) -> tuple[list[Rule], list[Problem]]:
    """Parse and validate every rule under `paths`; return the typed rules and every problem.
    With `values`, a value that never occurs in its field is a warning (rules/values.py)."""
    rules, problems = parse_rules(paths, limits)
    typed, more = validate_rules(rules, catalogue, lists, priorities, run_examples, cache, values)
    return typed, problems + more


def validate_rules(rules: Iterable[Rule], catalogue: Catalogue, lists: Lists,
                   priorities: Iterable[str] | None = None, run_examples: bool = True,
                   cache: Cache | None = None,
                   values: Vocabulary | None = None) -> tuple[list[Rule], list[Problem]]:
    """Check rules against the catalogue and lists; return those without errors, typed.
    `run_examples=False` skips running each rule's examples in both backends. With `cache`,
    a rule's backend checks (patterns and examples) are reused while the rule file, the
    catalogue and the lists it names are unchanged: they import and run Polars, which an
    officer re-testing an unchanged query should not wait for."""
    vocabulary = tuple(priorities) if priorities is not None else None
    checked = [type_rule(rule, catalogue, lists, vocabulary) for rule in rules]
    pending = []
    for rule, found in checked:
        if rule is None:
            continue
        key = _backend_key(rule, catalogue, lists, run_examples)
        cached = cache.get("backend", key) if cache is not None else None
        if isinstance(cached, list):
            found.extend(Problem.from_dict(p) for p in cached)
        else:
            pending.append((rule, found, key))
    _backend_checks(pending, catalogue, lists, run_examples, cache)
    for rule, found in checked:
        if rule is not None and values:
            found.extend(value_problems(rule, values))
    typed = [rule for rule, found in checked
             if rule is not None and not any(p.severity == "error" for p in found)]
    return typed, [p for _, found in checked for p in found]


def _backend_key(rule: Rule, catalogue: Catalogue, lists: Lists, run_examples: bool) -> str:
    named = sorted({leaf.value for leaf in leaves(rule.where) if leaf.op == "in_list"})
    return cache_key(rule=rule.content_hash, path=rule.path, catalogue=sorted(catalogue.items()),
                     lists={name: digest(sorted(lists.get(name, ()))) for name in named},
                     examples=run_examples)


def _backend_checks(pending: list[tuple[Rule, list[Problem], str]], catalogue: Catalogue,
                    lists: Lists, run_examples: bool, cache: Cache | None) -> None:
    """Patterns, then examples (of rules still without errors), for the uncached rules."""
    found_before = [len(found) for _, found, _ in pending]
    for rule, found, _ in pending:
        found.extend(_pattern_problems(rule))
    if run_examples:
        _run_examples([(rule, found) for rule, found, _ in pending], catalogue, lists)
    if cache is not None:
        for (_, found, key), before in zip(pending, found_before):
            cache.put("backend", key, [p.to_dict() for p in found[before:]])


def _pattern_problems(rule: Rule) -> list[Problem]:
    found = []
    for leaf in leaves(rule.where):
        problem = regex_problem(leaf.value) if leaf.op == "matches" else None
        if problem:
            found.append(Problem("bad-regex", f"'{leaf.field}' {leaf.op}: {problem}", leaf.loc))
    return found


def _run_examples(checked: Sequence[tuple[Rule | None, list[Problem]]], catalogue: Catalogue,
                  lists: Lists) -> None:
    runnable = [(rule, found) for rule, found in checked
                if rule is not None and not any(p.severity == "error" for p in found)]
    if not runnable:
        return
    from targeting.compile import examples  # deferred: it imports Polars (see validate_rules)

    runner = examples.ExampleRunner(catalogue, lists)
    try:
        for (_, found), failed in zip(runnable, runner.run_all([r for r, _ in runnable])):
            found.extend(failed)
    finally:
        runner.close()
