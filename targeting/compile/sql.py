"""Compile a predicate tree to SQL with bound parameters.

Values never enter the SQL text: each one is a `?` parameter. Identifiers come only from the
field catalogue and are quoted. Every leaf is wrapped in COALESCE(..., FALSE) so it is two-valued:
a comparison on NULL is false and NOT of it is true, as in the Polars backend.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from targeting.db import register_frame
from targeting.errors import CompileError
from targeting.rules.model import (
    LIST_OPERATORS,
    NAMED_LIST_OPERATORS,
    All,
    AnyOf,
    Catalogue,
    Leaf,
    Node,
    Not,
)
from targeting.text import SPACE_CHARS, normalise, simple_folds

LISTS_TABLE = "target_lists"
# From this many values on, a text list operator binds its values as one list parameter: DuckDB
# plans an OR of 10,000 `strpos` leaves in 11 s and 890 MB, one bound list in 0.02 s and
# 100 MB, and below a handful of values the plain OR is as fast to run.
MANY = 8


@dataclass(frozen=True)
class Dialect:
    """The few spellings that differ between SQL engines."""

    name: str
    regex: str  # template with {col} and {pat}
    contains: str  # template with {col} and {val}


DIALECTS = {
    "duckdb": Dialect("duckdb", "regexp_matches({col}, {pat})", "strpos({col}, {val}) > 0"),
    "trino": Dialect("trino", "regexp_like({col}, {pat})", "strpos({col}, {val}) > 0"),
    "spark": Dialect("spark", "regexp_like({col}, {pat})", "instr({col}, {val}) > 0"),
}

_COMPARE = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def quote_identifier(name: str, catalogue: Catalogue) -> str:
    """Quote a field name that the catalogue knows; refuse anything else."""
    if name not in catalogue:
        raise CompileError(f"unknown field {name!r}: not in the data's field catalogue")
    return '"' + name.replace('"', '""') + '"'


def compile_sql(node: Node, catalogue: Catalogue, dialect: str = "duckdb",
                folded: Mapping[str, str] | None = None) -> tuple[str, list[Any]]:
    """Return `(sql, params)`: a boolean SQL expression over the manifest's columns.

    `folded` maps a text field to a column that already holds its folded form (see
    `folded_sql`), so a backtest folds each text column once instead of once per leaf.
    """
    if dialect not in DIALECTS:
        raise CompileError(f"unknown SQL dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    params: list[Any] = []
    sql = _node_sql(node, catalogue, DIALECTS[dialect], params, folded or {})
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


def folded_sql(field: str, catalogue: Catalogue) -> str:
    """SQL computing a text field's folded form (case and surrounding spaces removed)."""
    return _folded(quote_identifier(field, catalogue))


def _folded(col: str) -> str:
    """SQL for a text column normalised like `text.normalise`."""
    expr = f"trim({col}, {_SPACE_SQL})"
    for upper, lower in simple_folds().items():
        expr = f"replace({expr}, '{upper}', '{lower}')"
    return f"lower({expr})"


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
        target = _quote(folded[leaf.field]) if leaf.field in folded else _folded(col)
    named = leaf.op in NAMED_LIST_OPERATORS
    value = _normalised(leaf.value) if is_text and leaf.op != "matches" and not named else leaf.value
    if leaf.op in ("contains_list", "startswith_list") and dialect.name != "duckdb":
        raise CompileError(f"'{leaf.field}' {leaf.op} has no {dialect.name} form yet; it "
                           "compiles for DuckDB")
    # Other dialects keep one parameter per value (their list syntax differs).
    many = leaf.op in LIST_OPERATORS and len(value) > MANY and dialect.name == "duckdb"
    return f"COALESCE({_op_sql(leaf.op, target, value, dialect, params, many)}, FALSE)"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _normalised(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(normalise(str(v)) for v in value)
    return normalise(str(value))


def _op_sql(op: str, col: str, value: Any, dialect: Dialect, params: list[Any],
            many: bool = False) -> str:
    if op in _COMPARE:
        return f"{col} {_COMPARE[op]} {_bind(params, value)}"
    if op in ("in", "not_in") and many:
        kind = _LIST_TYPES[type(value[0])] if value else "VARCHAR"
        listed = f"{col} IN (SELECT unnest(CAST({_bind(params, list(value))} AS {kind}[])))"
        return f"NOT ({listed})" if op == "not_in" else listed
    if op in ("in", "not_in"):
        marks = ", ".join(_bind(params, v) for v in value)
        return f"{col} {'NOT IN' if op == 'not_in' else 'IN'} ({marks})"
    if op == "between":
        return f"{col} BETWEEN {_bind(params, value[0])} AND {_bind(params, value[1])}"
    if op == "contains":
        return dialect.contains.format(col=col, val=_bind(params, value))
    if many:
        return _many_sql(op, col, _bind(params, list(value)))
    if op in ("contains_any", "contains_all"):
        parts = [dialect.contains.format(col=col, val=_bind(params, v)) for v in value]
        return "(" + (" OR " if op == "contains_any" else " AND ").join(parts) + ")"
    if op == "startswith":
        return f"starts_with({col}, {_bind(params, value)})"
    if op == "startswith_any":
        return "(" + " OR ".join(f"starts_with({col}, {_bind(params, v)})" for v in value) + ")"
    if op == "endswith":
        return f"ends_with({col}, {_bind(params, value)})"
    if op == "matches":
        return dialect.regex.format(col=col, pat=_bind(params, value))
    if op == "in_list":
        return f"{col} IN (SELECT value FROM {LISTS_TABLE} WHERE list_name = {_bind(params, value)})"
    if op == "contains_list":
        return _contains_list_sql(col, value, params)
    if op == "startswith_list":
        return (f"EXISTS (SELECT 1 FROM (SELECT unnest(range(1, length({col}) + 1)) AS __p) __q "
                f"JOIN {LISTS_TABLE} __l ON __l.list_name = {_bind(params, value)} "
                f"AND __l.value = left({col}, __q.__p))")
    raise CompileError(f"operator {op!r} has no SQL form")


# The SQL type of a bound list of `in` values, by the (typed) values' Python type.
_LIST_TYPES = {str: "VARCHAR", int: "DOUBLE", float: "DOUBLE", dt.date: "DATE", bool: "BOOLEAN"}


def _many_sql(op: str, col: str, values: str) -> str:
    """A long inline list bound as one parameter (see MANY), matched term by term."""
    # Aliases start with two underscores: no field can (sources.snake_case), so none is hidden.
    terms = f"unnest(CAST({values} AS VARCHAR[])) AS __t(__v)"
    if op == "contains_any":
        return f"EXISTS (SELECT 1 FROM {terms} WHERE strpos({col}, __t.__v) > 0)"
    if op == "startswith_any":
        return f"EXISTS (SELECT 1 FROM {terms} WHERE starts_with({col}, __t.__v))"
    return (f"({col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {terms} "
            f"WHERE strpos({col}, __t.__v) = 0))")


def _contains_list_sql(col: str, name: str, params: list[Any]) -> str:
    """Whether `col` contains an entry of a list file, however long the list.

    Testing each entry in turn costs one `strpos` per entry and row (10,000 entries: about
    40 s per million rows); instead each three-letter piece of the value is looked up among
    the entries' first three letters (a hash join), and only the entries found there are
    compared in full. Entries shorter than three letters are tested one by one. DuckDB runs
    the correlated subqueries once per distinct value.
    """
    return (f"(EXISTS (SELECT 1 FROM (SELECT unnest(range(1, length({col}) - 1)) AS __p) __q "
            f"JOIN {LISTS_TABLE} __l ON __l.list_name = {_bind(params, name)} "
            f"AND length(__l.value) >= 3 AND left(__l.value, 3) = substr({col}, __q.__p, 3) "
            f"WHERE substr({col}, __q.__p, length(__l.value)) = __l.value) "
            f"OR EXISTS (SELECT 1 FROM {LISTS_TABLE} __l WHERE __l.list_name = "
            f"{_bind(params, name)} AND length(__l.value) < 3 AND strpos({col}, __l.value) > 0))")


# Up to this many list values are bound as parameters; more go through one Arrow frame.
SMALL_LISTS = 20_000


def target_lists_table(con: duckdb.DuckDBPyConnection, lists: Mapping[str, frozenset[str]],
                       temp: bool = False) -> None:
    """`target_lists(list_name, value)`: every list's values, the table the list operators
    read. Handed to DuckDB as one Arrow frame: a million values in a fraction of a second,
    where two bound Python lists took 4 s."""
    names = [name for name in sorted(lists) for _ in range(len(lists[name]))]
    values = [value for name in sorted(lists) for value in lists[name]]
    create = f"CREATE OR REPLACE {'TEMP ' if temp else ''}TABLE {LISTS_TABLE} AS "
    if len(values) <= SMALL_LISTS:
        # Bound lists: no Polars import, which the officer's `test` would otherwise pay for.
        con.execute(create + "SELECT CAST(unnest(?) AS VARCHAR) AS list_name, "
                    "CAST(unnest(?) AS VARCHAR) AS value", [names, values])
        return
    import polars as pl  # only for large lists: an Arrow frame is far faster than bound lists

    frame = pl.DataFrame({"list_name": names, "value": values},
                         schema={"list_name": pl.String, "value": pl.String})
    register_frame(con, "__target_lists", frame)
    try:
        con.execute(create + "SELECT list_name, value FROM __target_lists")
    finally:
        con.unregister("__target_lists")
