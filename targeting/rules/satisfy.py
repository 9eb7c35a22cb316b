"""Spot predicates that can never match, or match everything, so authors hear about them early.

Only simple, certain cases: leaves on one field inside one AND that contradict each other, and
an OR that covers every value. Works on typed trees (after validation coerced the values).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from targeting.errors import Problem
from targeting.rules.model import All, AnyOf, Leaf, Node, Not
from targeting.text import normalise


def never_problems(where: Node) -> list[Problem]:
    """Warnings for ANDs whose leaves on one field contradict each other."""
    problems = []
    for node in _and_roots(where):
        for field, group in _by_field(_conjuncts(node)).items():
            reason = _contradiction(group)
            if reason:
                loc = group[0].field_loc or group[0].loc
                problems.append(Problem("never-matches", f"'{field}' {reason}, so this "
                                        "condition never matches; check the values", loc, "warning"))
    return problems


def always_problems(where: Node) -> list[Problem]:
    """Warnings for conditions that hold for every row, or every row with a value."""
    problems = []
    for node in _walk(where):
        if isinstance(node, AnyOf):
            reason = _covers_everything(node.children)
            if reason:
                problems.append(Problem("always-matches", f"{reason}, so this 'any' matches "
                                        "every shipment; check the conditions", node.loc, "warning"))
        elif isinstance(node, Leaf) and _empty_text(node):
            problems.append(Problem("always-matches", f"'{node.field}' {node.op} an empty text "
                                    f"matches every shipment that has a {node.field}; give the text "
                                    "to look for, or use is_null: false", node.loc, "warning"))
    return problems


def _walk(node: Node) -> Iterator[Node]:
    yield node
    match node:
        case All(children) | AnyOf(children):
            for child in children:
                yield from _walk(child)
        case Not(child):
            yield from _walk(child)


def _and_roots(node: Node, in_and: bool = False) -> Iterator[Node]:
    """Each AND (or lone leaf) not itself directly inside an AND, so each is checked once."""
    if not in_and and isinstance(node, (All, Leaf)):
        yield node
    match node:
        case All(children) | AnyOf(children):
            for child in children:
                yield from _and_roots(child, isinstance(node, All))
        case Not(child):
            yield from _and_roots(child)


def _conjuncts(node: Node) -> list[Leaf]:
    """The leaves that must all hold for `node` to hold (looking through nested ANDs)."""
    if isinstance(node, Leaf):
        return [node]
    if isinstance(node, All):
        return [leaf for child in node.children for leaf in _conjuncts(child)]
    return []


def _by_field(leaves: list[Leaf]) -> dict[str, list[Leaf]]:
    groups: dict[str, list[Leaf]] = defaultdict(list)
    for leaf in leaves:
        groups[leaf.field].append(leaf)
    return groups


def _key(value: Any) -> Any:
    return normalise(value) if isinstance(value, str) else value


def _contradiction(group: list[Leaf]) -> str | None:
    nulls = {leaf.value for leaf in group if leaf.op == "is_null"}
    if nulls == {True, False}:
        return "cannot be both missing and present"
    if True in nulls and any(leaf.op != "is_null" for leaf in group):
        return "must be missing, but a comparison on a missing value is false"
    allowed = _allowed_values(group)
    if allowed is not None and not allowed:
        asked = [f"{leaf.op} {_show(leaf.value)}" for leaf in group
                 if leaf.op in ("eq", "in", "ne", "not_in")]
        return f"cannot satisfy {' and '.join(asked)} at once"
    return _empty_interval(group, allowed)


def _allowed_values(group: list[Leaf]) -> set[Any] | None:
    """The values eq/in leaves allow (minus ne/not_in), or None when unconstrained."""
    allowed: set[Any] | None = None
    for leaf in group:
        if leaf.op in ("eq", "in"):
            values = {_key(v) for v in (leaf.value if leaf.op == "in" else (leaf.value,))}
            allowed = values if allowed is None else allowed & values
    if allowed is None:
        return None
    for leaf in group:
        if leaf.op in ("ne", "not_in"):
            allowed -= {_key(v) for v in (leaf.value if leaf.op == "not_in" else (leaf.value,))}
    return allowed


def _empty_interval(group: list[Leaf], allowed: set[Any] | None) -> str | None:
    low, high = None, None  # (value, inclusive, text)
    for leaf in group:
        bounds = {"gt": [("low", False)], "ge": [("low", True)], "lt": [("high", False)],
                  "le": [("high", True)]}.get(leaf.op, [])
        values = [leaf.value] * len(bounds)
        if leaf.op == "between":
            bounds, values = [("low", True), ("high", True)], list(leaf.value)
        for (side, inclusive), value in zip(bounds, values):
            text = f"{leaf.op} {_show(leaf.value)}"
            if side == "low" and (low is None or value > low[0] or (value == low[0] and not inclusive)):
                low = (value, inclusive, text)
            if side == "high" and (high is None or value < high[0] or (value == high[0] and not inclusive)):
                high = (value, inclusive, text)
    if low and high and (low[0] > high[0] or (low[0] == high[0] and not (low[1] and high[1]))):
        return f"cannot be both {low[2]} and {high[2]}" if low[2] != high[2] else f"{low[2]} is empty"
    if allowed and (low or high) and not any(_inside(v, low, high) for v in allowed):
        return "has no allowed value inside its bounds"
    return None


def _inside(value: Any, low: tuple[Any, ...] | None, high: tuple[Any, ...] | None) -> bool:
    try:
        above = low is None or value > low[0] or (value == low[0] and low[1])
        below = high is None or value < high[0] or (value == high[0] and high[1])
    except TypeError:
        return True
    return above and below


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _covers_everything(children: tuple[Node, ...]) -> str | None:
    for child in children:
        if isinstance(child, Not) and child.child in children:
            return "a condition and its 'not' are both allowed"
    nulls = _by_field([c for c in children if isinstance(c, Leaf) and c.op == "is_null"])
    for field, group in nulls.items():
        if {leaf.value for leaf in group} == {True, False}:
            return f"'{field}' is allowed to be missing or present"
    return None


def _empty_text(leaf: Leaf) -> bool:
    if leaf.op in ("contains", "startswith", "endswith"):
        return normalise(str(leaf.value)) == ""
    if leaf.op in ("contains_any", "startswith_any"):
        return any(normalise(str(v)) == "" for v in leaf.value)
    return leaf.op == "matches" and leaf.value == ""
