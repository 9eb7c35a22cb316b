"""Check parsed rules against the data's field catalogue and lists, and type their values.

Pure: no backend runs here. Whether a rule's patterns compile and its examples hold in every
backend is checked by targeting.compile.check, which calls this first.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from targeting.dates import date_of
from targeting.errors import Problem
from targeting.rules.loader import did_you_mean, present
from targeting.rules.model import (
    LIST_OPERATORS,
    NAMED_LIST_OPERATORS,
    OPERATORS,
    All,
    AnyOf,
    Catalogue,
    Example,
    Leaf,
    Node,
    Not,
    Rule,
    leaves,
)
from targeting.rules.satisfy import always_problems, never_problems

Lists = Mapping[str, frozenset[str]]


class InvalidValue(Exception):
    """A value that cannot be given the field's type; args: (message, problem code)."""


def type_rule(rule: Rule, catalogue: Catalogue, lists: Lists,
              vocabulary: tuple[str, ...] | None) -> tuple[Rule | None, list[Problem]]:
    """The rule with typed values (its examples still to run) or None, and its problems."""
    found: list[Problem] = []
    return _check_rule(rule, catalogue, lists, vocabulary, found), found


def _check_rule(rule: Rule, catalogue: Catalogue, lists: Lists, vocabulary: tuple[str, ...] | None,
                found: list[Problem]) -> Rule | None:
    """The rule with typed values (its examples still to run), or None; problems into `found`."""
    found += _metadata_problems(rule, vocabulary)
    where = _typed_node(rule.where, catalogue, lists, found)
    if where is None:
        return None
    found += never_problems(where) + always_problems(where)
    examples = _typed_examples(rule, catalogue, found)
    if examples is None:
        return None
    return dataclasses.replace(rule, where=where, examples=examples)


# --- metadata ---------------------------------------------------------------------------


def _metadata_problems(rule: Rule, vocabulary: tuple[str, ...] | None) -> list[Problem]:
    problems = []
    for name in rule.priorities:
        if vocabulary is not None and name not in vocabulary:
            allowed = ", ".join(vocabulary) or "none are configured"
            problems.append(Problem("unknown-priority", f"priority '{name}' is not in the "
                                    f"configured priorities ({allowed}){did_you_mean(name, vocabulary)}",
                                    rule.loc))
    if rule.kind == "udr" and rule.port:
        problems.append(Problem("udr-with-port", f"UDRs are national but this one names port "
                                f"{rule.port}; remove 'port', or make it kind: query",
                                rule.loc, "warning"))
    if rule.kind == "query" and not rule.port:
        problems.append(Problem("query-without-port", "a query belongs to a port; add "
                                "`port: <port code>`", rule.loc, "warning"))
    return problems


# --- predicates -------------------------------------------------------------------------


def _typed_node(node: Node, cat: Catalogue, lists: Lists, found: list[Problem]) -> Node | None:
    """The tree with every value given its field's type, or None when a leaf is invalid."""
    match node:
        case All(children) | AnyOf(children):
            typed = present([_typed_node(c, cat, lists, found) for c in children])
            if typed is None:
                return None
            return dataclasses.replace(node, children=tuple(typed))
        case Not(child):
            typed_child = _typed_node(child, cat, lists, found)
            return None if typed_child is None else dataclasses.replace(node, child=typed_child)
        case Leaf():
            return _typed_leaf(node, cat, lists, found)
    raise TypeError(f"not a predicate node: {node!r}")


def _typed_leaf(leaf: Leaf, cat: Catalogue, lists: Lists, found: list[Problem]) -> Leaf | None:
    where = leaf.field_loc or leaf.loc
    if leaf.field not in cat:
        found.append(Problem("unknown-field", f"'{leaf.field}' is not a field of the data"
                             f"{_close_fields(leaf.field, cat)}", where))
        return None
    kind = cat[leaf.field]
    if kind not in OPERATORS[leaf.op]:
        fitting = ", ".join(op for op, kinds in OPERATORS.items() if kind in kinds)
        found.append(Problem("operator-type", f"'{leaf.op}' does not apply to '{leaf.field}', a "
                             f"{kind} field; operators for {kind} fields: {fitting}", leaf.loc))
        return None
    try:
        value = _typed_operand(leaf, kind, lists)
    except InvalidValue as exc:
        found.append(Problem(exc.args[1], f"'{leaf.field}' {leaf.op}: {exc.args[0]}", leaf.loc))
        return None
    return dataclasses.replace(leaf, value=value)


def _close_fields(name: str, cat: Catalogue) -> str:
    close = difflib.get_close_matches(name, list(cat), n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return f"; fields: {', '.join(sorted(cat))}"


def _typed_operand(leaf: Leaf, kind: str, lists: Lists) -> Any:
    if leaf.op == "is_null":
        return leaf.value
    if leaf.op in NAMED_LIST_OPERATORS:
        if leaf.value not in lists:
            known = ", ".join(sorted(lists)) or "none (add files to lists/)"
            raise InvalidValue(f"no list named '{leaf.value}'; known lists: {known}"
                           f"{did_you_mean(leaf.value, lists)}", "unknown-list")
        return leaf.value
    if leaf.op == "matches":
        return leaf.value  # whether it compiles in every backend is compile.regex's check
    if leaf.op in LIST_OPERATORS or leaf.op == "between":
        return tuple(coerce(v, kind) for v in leaf.value)
    return coerce(leaf.value, kind)


def coerce(value: Any, kind: str) -> Any:
    """`value` as a value of a `kind` field; InvalidValue says why it cannot be."""
    if kind == "text":
        if isinstance(value, bool):
            raise InvalidValue("YAML read this value as true/false, but this is a text field; if you "
                           "mean the text, quote it, such as 'NO' (YAML reads unquoted NO, yes, "
                           "on, off as true/false)", "bad-value")
        if isinstance(value, (dt.date, int, float)):
            return value.isoformat() if isinstance(value, dt.date) else _number_text(value)
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidValue(f"{value!r} is not a number; this is a number field", "bad-value")
        return value
    if kind == "date":
        return _date(value)
    if not isinstance(value, bool):
        raise InvalidValue(f"{value!r} is not true or false; this is a true/false field", "bad-value")
    return value


def _number_text(value: float) -> str:
    # 4701 and 4701.0 are both the code "4701"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _date(value: Any) -> dt.date:
    found = date_of(value)
    if found is not None:
        return found
    raise InvalidValue(f"{value!r} is not a date; write dates as YYYY-MM-DD, such as 2021-03-02",
                   "bad-date")



def _typed_examples(rule: Rule, cat: Catalogue, found: list[Problem]) -> tuple[Example, ...] | None:
    typed, ok = [], True
    for example in rule.examples:
        values = {}
        for name, value in example.values.items():
            if name not in cat:
                ok = False
                found.append(Problem("example-field", f"the example uses '{name}', which is not "
                                     f"a field of the data{_close_fields(name, cat)}", example.loc))
                continue
            try:
                values[name] = None if value is None else coerce(value, cat[name])
            except InvalidValue as exc:
                ok = False
                found.append(Problem("example-value", f"the example's '{name}': {exc.args[0]}",
                                     example.loc))
        typed.append(dataclasses.replace(example, values=values))
    return tuple(typed) if ok else None



def outcome_problems(rules: Iterable[Rule], outcome_fields: Iterable[str]) -> list[Problem]:
    """Warn where a rule tests the outcome itself: in labelled-manifest data the label column is
    a manifest field, and a rule on it would only measure the label against itself."""
    fields = set(outcome_fields)
    return [Problem("outcome-field", f"'{leaf.field}' is the outcome label of this data "
                    "(data.labelled.column); a rule on it measures the label against itself. "
                    "Use fields known before the exam.", leaf.loc or rule.loc, "warning")
            for rule in rules for leaf in leaves(rule.where) if leaf.field in fields]
