"""What values the data's fields hold: the vocabulary of each categorical text field (so a rule
naming a value that never occurs is warned about), and a per-field profile for `data check`.

A text field counts as categorical when it has at most MAX_DISTINCT distinct values, none longer
than MAX_LENGTH characters: modes, countries, ports, carriers; not descriptions or importer ids.
"""
from __future__ import annotations

from typing import Any

import duckdb

from targeting.data.contract import ident
from targeting.executor import DuckDBExecutor, Executor
from targeting.rules.model import Catalogue

MAX_DISTINCT = 300  # ~250 country codes must fit
MAX_LENGTH = 40
TOP_VALUES = 5

Vocabulary = dict[str, list[str]]  # field -> its distinct values, most frequent first


def vocabulary(sql: Executor | duckdb.DuckDBPyConnection, catalogue: Catalogue,
               table: str = "manifest") -> Vocabulary:
    """Every categorical text field's distinct values (most frequent first), read where the
    data is (DuckDB or Spark). One pass screens the fields by approximate distinct count and
    length; only the few that qualify are grouped (10M rows: one approximate pass over the text
    columns, then a GROUP BY per small field)."""
    if isinstance(sql, duckdb.DuckDBPyConnection):
        sql = DuckDBExecutor(sql)
    text = [name for name, kind in catalogue.items() if kind == "text"]
    if not text:
        return {}
    screen = ", ".join(f"approx_count_distinct({ident(n)}), max(length({ident(n)}))" for n in text)
    row = sql.rows(f"SELECT {screen} FROM {ident(table)}")[0]
    found: Vocabulary = {}
    for i, name in enumerate(text):
        distinct, longest = row[2 * i], row[2 * i + 1]
        if distinct is None or longest is None or longest > MAX_LENGTH or distinct > 2 * MAX_DISTINCT:
            continue
        values = [v for (v,) in sql.rows(
            f"SELECT {ident(name)} FROM {ident(table)} WHERE {ident(name)} IS NOT NULL "
            f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {MAX_DISTINCT + 1}")]
        if len(values) <= MAX_DISTINCT:
            found[name] = [str(v) for v in values]
    return found


def field_profile(con: duckdb.DuckDBPyConnection, catalogue: Catalogue,
                  table: str = "manifest") -> list[dict[str, Any]]:
    """Per field: its rule type, distinct values (approximate past a few thousand), empty
    values, and its most frequent values (text, true/false) or its range (numbers, dates)."""
    fields = []
    for name, kind in catalogue.items():
        col = ident(name)
        distinct, empty, low, high = con.execute(
            f"SELECT approx_count_distinct({col}), count(*) - count({col}), "
            f"{'min(' + col + '), max(' + col + ')' if kind in ('number', 'date') else 'NULL, NULL'} "
            f"FROM {ident(table)}").fetchall()[0]
        top = []
        if kind in ("text", "bool"):
            top = [(str(v), n) for v, n in con.execute(
                f"SELECT {col}, count(*) AS n FROM {ident(table)} WHERE {col} IS NOT NULL "
                f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT {TOP_VALUES}").fetchall()]
        fields.append({"field": name, "type": kind, "distinct": int(distinct or 0),
                       "empty": int(empty), "top": top,
                       "range": [_plain(low), _plain(high)] if kind in ("number", "date") else None})
    return fields


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
