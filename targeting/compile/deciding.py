"""Which conditions decided a rule's answer for one example, in words, so a failing example says
"it fails on: country of origin is CHN or HK (false: the example's country_of_origin is
'CN')" rather
than only that it failed."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from targeting.compile.english import describe
from targeting.compile.polars_expr import compile_polars
from targeting.rules.model import All, AnyOf, Catalogue, Leaf, Node, Not, leaves

MAX_SHOWN = 5  # conditions named in one message


def deciding_conditions(node: Node, row: pl.DataFrame, lists: Mapping[str, frozenset[str]],
                        catalogue: Catalogue) -> str:
    """The conditions that gave the rule its answer on the one-row frame `row`, in words: those
    that failed when it did not match, those that held when it matched."""
    found = leaves(node)
    exprs = [compile_polars(leaf, lists, catalogue).fill_null(False).alias(f"c{i}")
             for i, leaf in enumerate(found)]
    values = row.select(exprs).row(0)
    truth = {id(leaf): bool(v) for leaf, v in zip(found, values)}
    answer = _value(node, truth)
    why = _why(node, answer, truth)
    example = row.row(0, named=True)
    shown = [_phrase(leaf, held, example) for leaf, held in why[:MAX_SHOWN]]
    more = f", and {len(why) - MAX_SHOWN} more" if len(why) > MAX_SHOWN else ""
    verb = "it matches because" if answer else "it fails on"
    return f"{verb}: {'; '.join(shown)}{more}"


def _value(node: Node, truth: dict[int, bool]) -> bool:
    match node:
        case Leaf():
            return truth[id(node)]
        case All(children):
            return all(_value(c, truth) for c in children)
        case AnyOf(children):
            return any(_value(c, truth) for c in children)
        case Not(child):
            return not _value(child, truth)
    raise TypeError(f"not a predicate node: {node!r}")


def _why(node: Node, value: bool, truth: dict[int, bool]) -> list[tuple[Leaf, bool]]:
    """The leaves (with their own truth) that made `node` evaluate to `value`."""
    match node:
        case Leaf():
            return [(node, value)]
        case All(children) | AnyOf(children):
            # All is decided by its false children when false; AnyOf by its true ones when true;
            # otherwise every child took part.
            deciding = value if isinstance(node, AnyOf) else not value
            chosen = [c for c in children if _value(c, truth) == value] if deciding else children
            return [pair for c in chosen for pair in _why(c, value, truth)]
        case Not(child):
            return _why(child, not value, truth)
    raise TypeError(f"not a predicate node: {node!r}")


def _phrase(leaf: Leaf, held: bool, example: dict[str, Any]) -> str:
    value = example.get(leaf.field)
    shown = "missing" if value is None else repr(value.isoformat() if hasattr(value, "isoformat")
                                                   else value)
    return f"{describe(leaf)} ({str(held).lower()}: the example's {leaf.field} is {shown})"
