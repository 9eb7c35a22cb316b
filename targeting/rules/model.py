"""The rule model: immutable rules and predicate trees shared by every compiler."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from targeting.errors import Location as Location  # re-exported: rule nodes carry it

FieldType = Literal["text", "number", "date", "bool"]
Catalogue = Mapping[str, FieldType]

KINDS = ("query", "udr")
STATUSES = ("draft", "active", "promoted", "retired")

# Operators and the field types each one accepts.
OPERATORS: dict[str, tuple[FieldType, ...]] = {
    "eq": ("text", "number", "date", "bool"),
    "ne": ("text", "number", "date", "bool"),
    "in": ("text", "number", "date"),
    "not_in": ("text", "number", "date"),
    "lt": ("number", "date"),
    "le": ("number", "date"),
    "gt": ("number", "date"),
    "ge": ("number", "date"),
    "between": ("number", "date"),
    "contains": ("text",),
    "contains_any": ("text",),
    "contains_all": ("text",),
    "startswith": ("text",),
    "startswith_any": ("text",),
    "endswith": ("text",),
    "matches": ("text",),
    "is_null": ("text", "number", "date", "bool"),
    "in_list": ("text",),
    "contains_list": ("text",),
    "startswith_list": ("text",),
}
LIST_OPERATORS = frozenset({"in", "not_in", "contains_any", "contains_all", "startswith_any"})
# Operators whose operand names a list file (lists/<name>.txt or .csv) rather than listing values.
NAMED_LIST_OPERATORS = frozenset({"in_list", "contains_list", "startswith_list"})
COMBINATORS = ("all", "any", "not")


@dataclass(frozen=True)
class Leaf:
    """One comparison of a field with a value.

    `value` is a scalar for single-value operators, a tuple for list operators and
    `between` (low, high), a bool for `is_null`, and the list name for `in_list`,
    `contains_list` and `startswith_list`.
    Dates are `datetime.date`.
    """

    field: str
    op: str
    value: Any
    loc: Location | None = dataclasses.field(default=None, compare=False)  # the operator (or field) key
    field_loc: Location | None = dataclasses.field(default=None, compare=False)  # the field name


@dataclass(frozen=True)
class All:
    """True when every child is true (true when empty)."""

    children: tuple[Node, ...]
    loc: Location | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class AnyOf:
    """True when at least one child is true (false when empty)."""

    children: tuple[Node, ...]
    loc: Location | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class Not:
    """True when the child is false. Leaves are two-valued, so NOT of a NULL leaf is true."""

    child: Node
    loc: Location | None = dataclasses.field(default=None, compare=False)


Node = Leaf | All | AnyOf | Not


@dataclass(frozen=True)
class Example:
    """A record in a rule's `tests` block and whether the rule must match it."""

    values: Mapping[str, Any]
    should_match: bool
    loc: Location | None = None


@dataclass(frozen=True)
class Rule:
    """A query or UDR as loaded from one YAML file."""

    id: str
    kind: str
    title: str
    where: Node
    path: str
    status: str = "active"
    owner: str | None = None
    port: str | None = None
    created: dt.date | None = None
    priorities: tuple[str, ...] = ()
    rationale: str | None = None
    examples: tuple[Example, ...] = ()
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    content_hash: str = ""
    loc: Location | None = dataclasses.field(default=None, compare=False)

    @property
    def is_active(self) -> bool:
        return self.status == "active"


def leaves(node: Node) -> list[Leaf]:
    """Every leaf of a tree, left to right."""
    match node:
        case Leaf():
            return [node]
        case All(children) | AnyOf(children):
            return [leaf for child in children for leaf in leaves(child)]
        case Not(child):
            return leaves(child)
    raise TypeError(f"not a predicate node: {node!r}")
