"""Render a predicate tree as one plain English sentence, for reports and reviews."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from targeting.rules.model import All, AnyOf, Leaf, Node, Not

_PHRASES = {
    "eq": "is {v}", "ne": "is not {v}", "lt": "is less than {v}", "le": "is at most {v}",
    "gt": "is more than {v}", "ge": "is at least {v}", "contains": "contains {v}",
    "startswith": "starts with {v}", "endswith": "ends with {v}", "in_list": "is in the list {raw}",
    "contains_list": "contains an entry of the list {raw}",
    "startswith_list": "starts with an entry of the list {raw}",
    "matches": "matches the pattern {raw}",
}
_LIST_PHRASES = {
    "in": ("is {}", "or"), "not_in": ("is none of {}", "or"), "contains_any": ("contains {}", "or"),
    "contains_all": ("contains {}", "and"), "startswith_any": ("starts with {}", "or"),
}
_PLAIN = re.compile(r"^[\w.\-/+&]+$")


def describe(node: Node) -> str:
    """A plain sentence for the whole predicate."""
    match node:
        case All(children) if not _one_field(node):
            return ", and ".join(_part(c) for c in children)
        case AnyOf(children):
            return ", or ".join(_part(c) for c in children)
    return _part(node)


def _part(node: Node) -> str:
    """A phrase that can sit inside a longer sentence (bracketed when it combines others)."""
    match node:
        case Leaf():
            return f"{field_words(node.field)} {_leaf_phrase(node)}"
        case All(children) if _one_field(node):
            return _field_group(children)  # type: ignore[arg-type]
        case All(children):
            return "(" + " and ".join(_part(c) for c in children) + ")"
        case AnyOf(children):
            return "(" + " or ".join(_part(c) for c in children) + ")"
        case Not(child):
            return f"not ({describe(child)})"
    raise TypeError(f"not a predicate node: {node!r}")


def field_words(name: str) -> str:
    """A field name as words: declared_value -> declared value."""
    return name.replace("_", " ")


def _one_field(node: All) -> bool:
    fields = {c.field for c in node.children if isinstance(c, Leaf)}
    return len(fields) == 1 and all(isinstance(c, Leaf) for c in node.children)


def _field_group(leaves: tuple[Leaf, ...]) -> str:
    """'declared value is at least 20 and less than 800': the subject and 'is' said once."""
    phrases = [_leaf_phrase(leaf) for leaf in leaves]
    for i in range(1, len(phrases)):
        if phrases[i].startswith("is ") and phrases[i - 1].startswith("is "):
            phrases[i] = phrases[i][3:]
    return f"{field_words(leaves[0].field)} " + " and ".join(phrases)


def _leaf_phrase(leaf: Leaf) -> str:
    if leaf.op == "is_null":
        return "is missing" if leaf.value else "is present"
    if leaf.op == "between":
        low, high = leaf.value
        return f"is between {_value(low)} and {_value(high)} (inclusive)"
    if leaf.op in _LIST_PHRASES:
        template, joiner = _LIST_PHRASES[leaf.op]
        return template.format(_join([_value(v) for v in leaf.value], joiner))
    return _PHRASES[leaf.op].format(v=_value(leaf.value), raw=leaf.value)


def _join(words: list[str], joiner: str) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + f" {joiner} {words[-1]}"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, int, float)):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    text = str(value)
    return text if _PLAIN.match(text) else '"' + text.replace('"', '\\"') + '"'
