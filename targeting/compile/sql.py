"""Compile a predicate tree to SQL with bound parameters.

Values never enter the SQL text: each one is a `?` parameter. Identifiers come only from the
field catalogue and are quoted. Every leaf is wrapped in COALESCE(..., FALSE) so it is two-valued:
a comparison on NULL is false and NOT of it is true, as in the Polars backend.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import duckdb

from targeting.compile.regex import java_pattern
from targeting.db import register_frame
from targeting.dialect import DIALECTS, DUCKDB, Dialect
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
from targeting.text import SPACE_CHARS, normalise, rare_folds, simple_folds

LISTS_TABLE = "target_lists"
# From this many values on, a text list operator binds its values as one list parameter: DuckDB
# plans an OR of 10,000 `strpos` leaves in 11 s and 890 MB, one bound list in 0.02 s and
# 100 MB, and below a handful of values the plain OR is as fast to run.
MANY = 8

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
    named = leaf.op in NAMED_LIST_OPERATORS
    value = _normalised(leaf.value) if is_text and leaf.op != "matches" and not named else leaf.value
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
    if op == "contains_list":
        return _contains_list_sql(col, value, params, dialect)
    if op == "startswith_list":
        positions, within = _positions(col, "", dialect)
        return (f"EXISTS (SELECT 1 FROM {positions} "
                f"JOIN {LISTS_TABLE} __l ON __l.list_name = {_bind(params, value)} "
                f"AND __l.value = left({col}, __q.__p){within})")
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


def _contains_list_sql(col: str, name: str, params: list[Any], dialect: Dialect) -> str:
    """Whether `col` contains an entry of a list file, however long the list.

    Testing each entry in turn costs one `strpos` per entry and row (10,000 entries: about
    40 s per million rows); instead each three-letter piece of the value is looked up among
    the entries' first three letters (a hash join), and only the entries found there are
    compared in full. Entries shorter than three letters are tested one by one. DuckDB runs
    the correlated subqueries once per distinct value (Spark decorrelates them the same way).
    """
    positions, within = _positions(col, " - 2", dialect)
    found = dialect.contains.format(col=col, val="__l.value")
    return (f"(EXISTS (SELECT 1 FROM {positions} "
            f"JOIN {LISTS_TABLE} __l ON __l.list_name = {_bind(params, name)} "
            f"AND length(__l.value) >= 3 AND left(__l.value, 3) = substr({col}, __q.__p, 3) "
            f"WHERE substr({col}, __q.__p, length(__l.value)) = __l.value{within}) "
            f"OR EXISTS (SELECT 1 FROM {LISTS_TABLE} __l WHERE __l.list_name = "
            f"{_bind(params, name)} AND length(__l.value) < 3 AND {found}))")


def list_matches_sql(leaf: Leaf, values: str, values_params: list[Any],
                     dialect: Dialect) -> tuple[str, list[Any]]:
    """`(sql, params)` selecting the distinct `value`s of the relation `values(value)` (a text
    field's values) that a named-list leaf (in_list, contains_list, startswith_list) holds for,
    by joins with the list table instead of a subquery per value.

    The Spark engine evaluates leaves this way: Spark plans each subquery expression of a query
    as a join of its own, and 8 in one query took 30 s to plan over 300 rows; as plain joins the
    lists of every leaf cost one job together."""
    if leaf.op not in NAMED_LIST_OPERATORS:
        raise CompileError(f"operator {leaf.op!r} names no list")
    folded = f"(SELECT value, {_folded('value', dialect)} AS t FROM {values}) x"
    if leaf.op == "in_list":
        return (f"SELECT DISTINCT x.value FROM {folded} JOIN {LISTS_TABLE} l "
                "ON l.list_name = ? AND l.value = x.t", [*values_params, leaf.value])
    spread = dialect.unnest_sql("sequence(1, length(x.t){})" if dialect.name == "spark"
                                else "range(1, length(x.t){} + 1)")
    if leaf.op == "startswith_list":
        return (f"SELECT DISTINCT y.value FROM (SELECT x.value, x.t, {spread.format('')} AS p "
                f"FROM {folded}) y JOIN {LISTS_TABLE} l ON l.list_name = ? "
                "AND l.value = left(y.t, y.p) WHERE y.p >= 1 AND y.p <= length(y.t)",
                [*values_params, leaf.value])
    short = dialect.contains.format(col="x.t", val="l.value")
    return (f"SELECT DISTINCT y.value FROM (SELECT x.value, x.t, {spread.format(' - 2')} AS p "
            f"FROM {folded}) y JOIN {LISTS_TABLE} l ON l.list_name = ? "
            "AND length(l.value) >= 3 AND left(l.value, 3) = substr(y.t, y.p, 3) "
            "WHERE y.p >= 1 AND y.p <= length(y.t) - 2 AND substr(y.t, y.p, length(l.value)) = l.value "
            f"UNION SELECT DISTINCT x.value FROM {folded} JOIN {LISTS_TABLE} l "
            f"ON l.list_name = ? AND length(l.value) < 3 AND {short}",
            [*values_params, leaf.value, *values_params, leaf.value])


def _positions(col: str, less: str, dialect: Dialect) -> tuple[str, str]:
    """A relation `__q(__p)` of the positions 1 .. length(col){less}, and the condition (to
    AND into the join) that keeps only those: DuckDB's range is empty when the end comes
    first; Spark's sequence counts down, so its extra positions are filtered out."""
    if dialect.name == "spark":
        return (f"(SELECT explode(sequence(1, length({col}){less})) AS __p) __q",
                f" AND __q.__p >= 1 AND __q.__p <= length({col}){less}")
    end = {"": " + 1", " - 2": " - 1"}[less]  # range's end is exclusive
    return f"(SELECT unnest(range(1, length({col}){end})) AS __p) __q", ""


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
