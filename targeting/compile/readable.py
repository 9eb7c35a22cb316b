"""A rule as SQL for people to read (`targeting compile --to sql`): one condition per line,
indented by nesting, each text field folded once in a CTE (as backtests fold it) instead of in
every condition, and the bound values listed; with `inline`, the values written in as literals
so the query can be pasted into DuckDB and run (reading only: the tool always binds them)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from targeting.compile.sql import compile_sql, folded_sql, quote_identifier
from targeting.rules.model import NAMED_LIST_OPERATORS, All, AnyOf, Catalogue, Leaf, Node, Not, leaves

INDENT = "  "
FOLDED = "__folded_"  # prefix of the CTE's folded text columns (no field starts with "__")


def readable_sql(node: Node, catalogue: Catalogue, title: str = "", inline: bool = False,
                 table: str = "manifest") -> str:
    """The whole query over `table`: a CTE folding the text fields the rule compares, then the
    rows the predicate matches."""
    text = sorted({leaf.field for leaf in leaves(node)
                   if catalogue.get(leaf.field) == "text" and leaf.op != "matches"})
    folded = {name: f"{FOLDED}{name}" for name in text}
    params: list[Any] = []
    where = _node(node, catalogue, folded, params, 1)
    head = [f"-- {line}" for line in title.splitlines() if line.strip()]
    if inline:
        where = _inline(where, params)
        head.append("-- values written in as literals, for reading and running by hand; the tool "
                    "binds them as parameters")
    if any(leaf.op in NAMED_LIST_OPERATORS for leaf in leaves(node)):
        head.append("-- the list operators read target_lists(list_name, value): the list files")
    lines = [*head, "WITH rows AS (", f"{INDENT}SELECT *" + ("," if text else "")]
    if text:
        lines.append(f"{INDENT * 2}-- text is compared folded: surrounding spaces trimmed, lower case")
    lines += [f"{INDENT * 2}{folded_sql(name, catalogue)} AS {_quote(folded[name])}"
              + ("," if i < len(text) - 1 else "") for i, name in enumerate(text)]
    lines += [f"{INDENT}FROM {quote_identifier(table, {table: 'text'})}", ")",
              "SELECT *", "FROM rows", "WHERE", where + ";"]
    if not inline and params:
        lines += ["-- parameters, in order:"]
        lines += [f"--   ${i} = {_literal(v)}" for i, v in enumerate(params, 1)]
    return "\n".join(lines)


def _node(node: Node, cat: Catalogue, folded: dict[str, str], params: list[Any], depth: int) -> str:
    pad = INDENT * depth
    match node:
        case Leaf():
            sql, values = compile_sql(node, cat, folded=folded)
            params += values
            return pad + sql
        case All(children) | AnyOf(children):
            if not children:
                return pad + ("TRUE" if isinstance(node, All) else "FALSE")
            joiner = "AND" if isinstance(node, All) else "OR"
            if depth == 1 and isinstance(node, All):  # the top level: one condition a line
                parts = [_node(c, cat, folded, params, depth).lstrip() for c in children]
                return pad + f"\n{pad}{joiner} ".join(parts)
            parts = [_node(c, cat, folded, params, depth + 1).lstrip() for c in children]
            inner = f"\n{pad}{INDENT}{joiner} ".join(parts)
            return f"{pad}(\n{pad}{INDENT}{inner}\n{pad})"
        case Not(child):
            return f"{pad}NOT (\n{_node(child, cat, folded, params, depth + 1)}\n{pad})"
    raise TypeError(f"not a predicate node: {node!r}")


def _inline(sql: str, params: list[Any]) -> str:
    """`sql` with each `?` outside quotes replaced by the next parameter as a literal."""
    out, values, quote = [], iter(params), ""
    for ch in sql:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append(_literal(next(values)))
            continue
        out.append(ch)
    return "".join(out)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
