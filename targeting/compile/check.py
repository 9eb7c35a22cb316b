"""Validate rules: typed against the data's catalogue and lists (rules.validate), patterns
that compile alike in every backend (compile.regex), and examples that hold in both compilers
(compile.examples)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from targeting.compile import examples
from targeting.compile.regex import regex_problem
from targeting.errors import Problem
from targeting.rules.limits import RuleLimits
from targeting.rules.loader import parse_rules
from targeting.rules.model import Catalogue, Rule, leaves
from targeting.rules.validate import Lists, outcome_problems, type_rule

__all__ = ["check_rules", "outcome_problems", "validate_rules"]


def check_rules(paths: Iterable[Path], catalogue: Catalogue, lists: Lists,
                priorities: Iterable[str] | None = None,
                run_examples: bool = True, limits: RuleLimits | None = None
                ) -> tuple[list[Rule], list[Problem]]:
    """Parse and validate every rule under `paths`; return the typed rules and every problem."""
    rules, problems = parse_rules(paths, limits)
    typed, more = validate_rules(rules, catalogue, lists, priorities, run_examples)
    return typed, problems + more


def validate_rules(rules: Iterable[Rule], catalogue: Catalogue, lists: Lists,
                   priorities: Iterable[str] | None = None,
                   run_examples: bool = True) -> tuple[list[Rule], list[Problem]]:
    """Check rules against the catalogue and lists; return those without errors, typed.
    `run_examples=False` skips running each rule's examples in both backends."""
    vocabulary = tuple(priorities) if priorities is not None else None
    checked = [type_rule(rule, catalogue, lists, vocabulary) for rule in rules]
    checked = [(rule, found + _pattern_problems(rule)) if rule is not None else (rule, found)
               for rule, found in checked]
    if run_examples:
        _run_examples(checked, catalogue, lists)
    typed = [rule for rule, found in checked
             if rule is not None and not any(p.severity == "error" for p in found)]
    return typed, [p for _, found in checked for p in found]


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
    runner = examples.ExampleRunner(catalogue, lists)
    try:
        for (_, found), failed in zip(runnable, runner.run_all([r for r, _ in runnable])):
            found.extend(failed)
    finally:
        runner.close()
