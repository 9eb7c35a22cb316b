"""Compile a predicate tree to a Polars expression, case for case with `compile_sql`."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from targeting.compile.sql import MANY
from targeting.errors import CompileError
from targeting.rules.model import NAMED_LIST_OPERATORS, All, AnyOf, Catalogue, Leaf, Node, Not
from targeting.text import SPACE_CHARS, normalise, simple_folds


def compile_polars(
    node: Node,
    lists: Mapping[str, frozenset[str]] | None = None,
    catalogue: Catalogue | None = None,
) -> pl.Expr:
    """Return a boolean expression, never null, over the manifest's columns.

    With a catalogue, field types come from it and unknown fields are refused; without one,
    a leaf is text when its value is text (values of a loaded rule are already typed).
    """
    match node:
        case All(children):
            parts = [compile_polars(c, lists, catalogue) for c in children]
            return pl.all_horizontal(parts) if parts else pl.lit(True)
        case AnyOf(children):
            parts = [compile_polars(c, lists, catalogue) for c in children]
            return pl.any_horizontal(parts) if parts else pl.lit(False)
        case Not(child):
            return ~compile_polars(child, lists, catalogue)
        case Leaf():
            return _leaf_expr(node, lists or {}, catalogue)
    raise CompileError(f"not a predicate node: {node!r}")


def folded(expr: pl.Expr) -> pl.Expr:
    """A text expression normalised like `text.normalise`."""
    folds = simple_folds()
    expr = expr.str.strip_chars(SPACE_CHARS).str.replace_many(list(folds), list(folds.values()))
    return expr.str.to_lowercase()


def _leaf_expr(leaf: Leaf, lists: Mapping[str, frozenset[str]], catalogue: Catalogue | None) -> pl.Expr:
    if catalogue is not None and leaf.field not in catalogue:
        raise CompileError(f"unknown field {leaf.field!r}: not in the data's field catalogue")
    col = pl.col(leaf.field)
    if leaf.op == "is_null":
        return col.is_null() if leaf.value else col.is_not_null()
    if catalogue is not None:
        text = catalogue[leaf.field] == "text"
    else:
        text = leaf.op not in _NUMERIC_OPS and (leaf.op in NAMED_LIST_OPERATORS
                                                or _is_text_value(leaf.value))
    target = folded(col) if text and leaf.op != "matches" else col
    value = leaf.value
    if text and leaf.op != "matches" and leaf.op not in NAMED_LIST_OPERATORS:
        value = tuple(normalise(str(v)) for v in value) if isinstance(value, tuple) else normalise(str(value))
    dtype = POLARS_TYPES[catalogue[leaf.field]] if catalogue is not None else (pl.String if text else None)
    return _op_expr(leaf.op, target, value, lists, dtype).fill_null(False)


_NUMERIC_OPS = frozenset({"lt", "le", "gt", "ge", "between"})


def _is_text_value(value: Any) -> bool:
    first = value[0] if isinstance(value, tuple) and value else value
    return isinstance(first, str)


POLARS_TYPES = {"text": pl.String, "number": pl.Float64, "date": pl.Date, "bool": pl.Boolean}


def _values(values: Any, dtype: Any) -> pl.Expr:
    # One literal list of the column's type: Polars 2 refuses Int64 values against a Float64
    # column, and a bare Python list passed to is_in is ambiguous (deprecated).
    return pl.lit(pl.Series(list(values), dtype=dtype, strict=False)).implode()


def _op_expr(op: str, col: pl.Expr, value: Any, lists: Mapping[str, frozenset[str]],
             dtype: Any = None) -> pl.Expr:
    match op:
        case "eq":
            return col == pl.lit(value)
        case "ne":
            return col != pl.lit(value)
        case "lt":
            return col < pl.lit(value)
        case "le":
            return col <= pl.lit(value)
        case "gt":
            return col > pl.lit(value)
        case "ge":
            return col >= pl.lit(value)
        case "between":
            return col.is_between(pl.lit(value[0]), pl.lit(value[1]), closed="both")
        case "in":
            return col.is_in(_values(value, dtype))
        case "not_in":
            return ~col.is_in(_values(value, dtype)) & col.is_not_null()
        case "contains":
            return col.str.contains(value, literal=True)
        case "contains_any" if len(value) > MANY:  # Aho-Corasick, as compile.sql's bound list
            return col.str.contains_any(list(value))
        case "contains_any":
            return pl.any_horizontal([col.str.contains(v, literal=True) for v in value])
        case "contains_all" if len(value) > MANY:  # every term found, in one Aho-Corasick pass
            terms = sorted(set(value) - {""})
            if not terms:
                return col.is_not_null()
            return col.str.extract_many(terms, overlapping=True).list.n_unique() == len(terms)
        case "contains_all":
            return pl.all_horizontal([col.str.contains(v, literal=True) for v in value])
        case "startswith":
            return col.str.starts_with(value)
        case "startswith_any" if len(value) > MANY:
            return _startswith_list(col, frozenset(value))
        case "startswith_any":
            return pl.any_horizontal([col.str.starts_with(v) for v in value])
        case "endswith":
            return col.str.ends_with(value)
        case "matches":
            return col.str.contains(value)
        case "in_list":
            return col.is_in(_values(sorted(_named(lists, value)), pl.String))
        case "contains_list":
            entries = sorted(_named(lists, value))
            return col.str.contains_any(entries) if entries else pl.lit(False)
        case "startswith_list":
            return _startswith_list(col, _named(lists, value))
    raise CompileError(f"operator {op!r} has no Polars form")


def _named(lists: Mapping[str, frozenset[str]], name: str) -> frozenset[str]:
    if name not in lists:
        known = ", ".join(sorted(lists)) or "none"
        raise CompileError(f"unknown list {name!r}; known lists: {known}")
    return lists[name]


def _startswith_list(col: pl.Expr, entries: frozenset[str]) -> pl.Expr:
    """A prefix of each entry length looked up among the entries of that length (as compile.sql
    looks up every prefix), rather than one starts_with per entry."""
    by_length: dict[int, list[str]] = {}
    for entry in sorted(entries):
        by_length.setdefault(len(entry), []).append(entry)
    if not by_length:
        return pl.lit(False)
    return pl.any_horizontal([col.str.slice(0, n).is_in(_values(group, pl.String))
                              for n, group in sorted(by_length.items())])
