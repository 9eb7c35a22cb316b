"""Compile a predicate tree to SQL with bound parameters.

Values never enter the SQL text: each one is a `?` parameter. Identifiers come only from the
field catalogue and are quoted. Every leaf is wrapped in COALESCE(..., FALSE) so it is two-valued:
a comparison on NULL is false and NOT of it is true, as in the Polars backend.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from targeting.compile.regex import java_pattern
from targeting.dialect import DIALECTS, DUCKDB, Dialect
from targeting.errors import CompileError
from targeting.rules.model import All, AnyOf, Catalogue, Leaf, Node, Not
from targeting.text import SPACE_CHARS, normalise, rare_folds, simple_folds

LISTS_TABLE = "target_lists"

_COMPARE = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def quote_identifier(name: str, catalogue: Catalogue) -> str:
    """Quote a field name that the catalogue knows; refuse anything else."""
    if name not in catalogue:
        raise CompileError(f"unknown field {name!r}: not in the data's field catalogue")
    return '"' + name.replace('"', '""') + '"'


def compile_sql(node: Node, catalogue: Catalogue, dialect: str | Dialect = "duckdb",
                folded: Mapping[str, str] | None = None) -> tuple[str, list[Any]]:
    """Return `(sql, params)`: a boolean SQL expression over the manifest's columns.

    `folded` maps a text field to a column that already holds its folded form (see
    `folded_sql`), so a backtest folds each text column once instead of once per leaf.
    """
    if isinstance(dialect, str):
        if dialect not in DIALECTS:
            raise CompileError(f"unknown SQL dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
        dialect = DIALECTS[dialect]
    params: list[Any] = []
    sql = _node_sql(node, catalogue, dialect, params, folded or {})
    return sql, params


def _node_sql(node: Node, cat: Catalogue, dialect: Dialect, params: list[Any],
              folded: Mapping[str, str]) -> str:
    match node:
        case All(children):
            parts = [_node_sql(c, cat, dialect, params, folded) for c in children]
            return "(" + " AND ".join(parts) + ")" if parts else "TRUE"
        case AnyOf(children):
            parts = [_node_sql(c, cat, dialect, params, folded) for c in children]
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        case Not(child):
            return f"(NOT {_node_sql(child, cat, dialect, params, folded)})"
        case Leaf():
            return _leaf_sql(node, cat, dialect, params, folded)
    raise CompileError(f"not a predicate node: {node!r}")


def _bind(params: list[Any], value: Any) -> str:
    params.append(value)
    return "?"


def folded_sql(field: str, catalogue: Catalogue, dialect: Dialect = DUCKDB) -> str:
    """SQL computing a text field's folded form (case and surrounding spaces removed)."""
    return _folded(quote_identifier(field, catalogue), dialect)


def _folded(col: str, dialect: Dialect = DUCKDB) -> str:
    """SQL for a text column normalised like `text.normalise`.

    The two common characters are replaced in every value, the rare ones (text.rare_folds)
    translated. DuckDB translates only values holding one: its `translate` costs seven times a
    plain fold (10 s against 1.5 s over 3M descriptions), a character-class test almost nothing.
    Spark's translate costs less than the test (0.77 s against 1.13 s over 200,000)."""
    rare = rare_folds()
    expr = f"trim(BOTH {_SPACE_SQL} FROM {col})"
    for upper, lower in simple_folds().items():
        if upper not in rare:
            expr = f"replace({expr}, '{upper}', '{lower}')"
    src, dst = "".join(rare), "".join(rare.values())
    translated = f"translate({expr}, '{src}', '{dst}')"
    if dialect.name != "duckdb":
        return f"lower({translated})"
    test = dialect.regex_sql(col, f"'[{src}]'")
    return f"lower(CASE WHEN {test} THEN {translated} ELSE {expr} END)"


# SPACE_CHARS spelled with chr() so the SQL text stays on one line in every dialect.
_SPACE_SQL = " || ".join(f"chr({ord(c)})" for c in SPACE_CHARS)


def _leaf_sql(leaf: Leaf, cat: Catalogue, dialect: Dialect, params: list[Any],
              folded: Mapping[str, str]) -> str:
    col = quote_identifier(leaf.field, cat)
    if leaf.op == "is_null":
        return f"({col} IS NULL)" if leaf.value else f"({col} IS NOT NULL)"
    is_text = cat[leaf.field] == "text"
    target = col
    if is_text and leaf.op != "matches":
        target = _quote(folded[leaf.field]) if leaf.field in folded else _folded(col, dialect)
    value = _normalised(leaf.value) if is_text and leaf.op not in ("matches", "in_list") else leaf.value
    return f"COALESCE({_op_sql(leaf.op, target, value, dialect, params)}, FALSE)"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _normalised(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(normalise(str(v)) for v in value)
    return normalise(str(value))


def _op_sql(op: str, col: str, value: Any, dialect: Dialect, params: list[Any]) -> str:
    if op in _COMPARE:
        return f"{col} {_COMPARE[op]} {_bind(params, value)}"
    if op in ("in", "not_in"):
        marks = ", ".join(_bind(params, v) for v in value)
        return f"{col} {'NOT IN' if op == 'not_in' else 'IN'} ({marks})"
    if op == "between":
        return f"{col} BETWEEN {_bind(params, value[0])} AND {_bind(params, value[1])}"
    if op == "contains":
        return dialect.contains.format(col=col, val=_bind(params, value))
    if op in ("contains_any", "contains_all"):
        parts = [dialect.contains.format(col=col, val=_bind(params, v)) for v in value]
        return "(" + (" OR " if op == "contains_any" else " AND ").join(parts) + ")"
    if op == "startswith":
        return dialect.startswith.format(col=col, val=_bind(params, value))
    if op == "startswith_any":
        parts = [dialect.startswith.format(col=col, val=_bind(params, v)) for v in value]
        return "(" + " OR ".join(parts) + ")"
    if op == "endswith":
        return dialect.endswith.format(col=col, val=_bind(params, value))
    if op == "matches":
        pattern = java_pattern(value) if dialect.regex_library == "java" else value
        return dialect.regex_sql(col, _bind(params, pattern))
    if op == "in_list":
        return f"{col} IN (SELECT value FROM {LISTS_TABLE} WHERE list_name = {_bind(params, value)})"
    raise CompileError(f"operator {op!r} has no SQL form")


def target_lists_table(con: duckdb.DuckDBPyConnection, lists: Mapping[str, frozenset[str]],
                       temp: bool = False) -> None:
    """`target_lists(list_name, value)`: every list's values, the table `in_list` reads."""
    names = [name for name in sorted(lists) for _ in lists[name]]
    values = [value for name in sorted(lists) for value in sorted(lists[name])]
    # Two bound lists unnested side by side: one statement, however long the lists.
    con.execute(f"""CREATE OR REPLACE {"TEMP " if temp else ""}TABLE {LISTS_TABLE} AS
        SELECT unnest(?::VARCHAR[]) AS list_name, unnest(?::VARCHAR[]) AS value""", [names, values])
