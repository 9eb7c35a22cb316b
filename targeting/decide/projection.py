"""The national projection of a query: the same predicate with its port conditions relaxed."""
from __future__ import annotations

import dataclasses

from targeting.rules.model import All, AnyOf, Leaf, Node, Not, Rule, leaves

PORT_FIELD = "port_code"
TRUE, FALSE = All(()), AnyOf(())


def without_ports(node: Node, positive: bool = True) -> Node:
    """Replace every port_code leaf by the constant that never restricts the match.

    Under an even number of `not`s that is true, under an odd number false, so the projection
    matches every shipment the query matches, at any port.
    """
    match node:
        case Leaf(field="port_code"):
            return TRUE if positive else FALSE
        case Leaf():
            return node
        case Not(child):
            return _simplify(Not(without_ports(child, not positive)))
        case All(children) | AnyOf(children):
            rebuilt = type(node)(tuple(without_ports(c, positive) for c in children))
            return _simplify(rebuilt)
    raise TypeError(f"not a predicate node: {node!r}")


def _simplify(node: Node) -> Node:
    match node:
        case Not(All(())):
            return FALSE
        case Not(AnyOf(())):
            return TRUE
        case All(children):
            if FALSE in children:
                return FALSE
            kept = tuple(c for c in children if c != TRUE)
            return kept[0] if len(kept) == 1 else All(kept)
        case AnyOf(children):
            if TRUE in children:
                return TRUE
            kept = tuple(c for c in children if c != FALSE)
            return kept[0] if len(kept) == 1 else AnyOf(kept)
    return node


def national_projection(rule: Rule) -> Rule:
    """The rule as it would run nationally: no port conditions, no home port."""
    return dataclasses.replace(rule, where=without_ports(rule.where), port=None)


def has_port_condition(node: Node) -> bool:
    return without_ports(node) != node


def home_ports(rule: Rule) -> tuple[str, ...]:
    """The ports a query is written for: its `port` and every port its port conditions name."""
    named = {str(v) for leaf in leaves(rule.where) if leaf.field == PORT_FIELD
             for v in (leaf.value if leaf.op == "in" else (leaf.value,) if leaf.op == "eq" else ())}
    return tuple(sorted(named | ({rule.port} if rule.port else set())))


def away_projection(rule: Rule) -> Rule | None:
    """The national projection restricted to shipments outside the query's home ports: where a
    national UDR would find what the query has never been tested on. None for a query with no
    home port (it is national already)."""
    home = home_ports(rule)
    if not home:
        return None
    outside = Not(Leaf(PORT_FIELD, "in", home))
    return dataclasses.replace(rule, where=All((without_ports(rule.where), outside)), port=None)
