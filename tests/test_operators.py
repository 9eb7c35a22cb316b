"""Every operator by hand, in both backends: which of a few hand-made rows it matches.

The random differential test (test_differential.py) shows DuckDB and Polars agree; it cannot
show that both are right. Here a person wrote down each answer: case folding per operator
(surrounding spaces, capitals, Turkish İ, Σ, ß), `between` bounds (both ends included, for
numbers and dates), NULLs, and the long-list forms (more than compile.sql.MANY values, bound as
one list) next to the short ones. A planted bug in one backend's operator fails here.
"""
from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from targeting.compile.polars_expr import compile_polars
from targeting.compile.sql import MANY, compile_sql, target_lists_table
from targeting.rules.model import OPERATORS, Leaf
from targeting.text import normalise

D = dt.date
ROWS = [  # rid, text, number, day
    (1, "Handbag", 10.0, D(2024, 1, 1)),
    (2, "  HANDBAG\t", 20.0, D(2024, 1, 31)),
    (3, "hand bag", 20.5, D(2024, 2, 1)),
    (4, "İstanbul Σ", 0.0, D(2023, 12, 31)),
    (5, "STRASSE", -1.0, D(2024, 6, 30)),
    (6, "Straße", 100.0, None),
    (7, None, None, D(2024, 1, 15)),
    (8, "50%_off", 19.999, D(2024, 1, 2)),
    (9, "", 20.0, D(2024, 2, 29)),
]
CATALOGUE = {"t": "text", "n": "number", "d": "date"}
LISTS = {"bags": frozenset(normalise(v) for v in ("HANDBAG", " purse ")),
         "words": frozenset(normalise(v) for v in ("BAG", "σ", "%_", "x")),
         "starts": frozenset(normalise(v) for v in ("HAND", "İs", "st"))}
FILLER = tuple(f"zz{i}" for i in range(MANY + 2))  # makes a list long enough to be bound as one

CASES = [
    # (field, op, operand, rids matched)
    ("t", "eq", " handbag ", {1, 2}),
    ("t", "eq", "istanbul σ", {4}),
    ("t", "eq", "strasse", {5}),  # ß is not ss
    ("t", "ne", "HANDBAG", {3, 4, 5, 6, 8, 9}),  # NULL is never a match
    ("t", "in", ("HANDBAG", "straße"), {1, 2, 6}),
    ("t", "in", ("HANDBAG", "straße", *FILLER), {1, 2, 6}),
    ("t", "not_in", ("handbag", "", "50%_OFF"), {3, 4, 5, 6}),
    ("t", "not_in", ("handbag", "", "50%_OFF", *FILLER), {3, 4, 5, 6}),
    ("t", "contains", "BAG", {1, 2, 3}),
    ("t", "contains", "%_", {8}),  # % and _ are ordinary characters
    ("t", "contains", "ISTAN", {4}),
    ("t", "contains_any", ("ß", "Σ"), {4, 6}),
    ("t", "contains_any", ("ß", "Σ", *FILLER), {4, 6}),
    ("t", "contains_all", ("hand", "BAG"), {1, 2, 3}),
    ("t", "contains_all", ("hand", "BAG", "hand"), {1, 2, 3}),
    ("t", "contains_all", ("hand", "BAG", *(["hand"] * (MANY + 1))), {1, 2, 3}),
    ("t", "contains_all", ("hand", "zz0", *FILLER), set()),
    ("t", "startswith", " HAND", {1, 2, 3}),
    ("t", "startswith_any", ("str", "50"), {5, 6, 8}),
    ("t", "startswith_any", ("str", "50", *FILLER), {5, 6, 8}),
    ("t", "endswith", "BAG", {1, 2, 3}),
    ("t", "endswith", "sse", {5}),
    ("t", "matches", "^Hand", {1}),  # raw and case-sensitive
    ("t", "matches", "(?i)^hand", {1, 3}),
    ("t", "matches", "^ ", {2}),
    ("t", "is_null", True, {7}),
    ("t", "is_null", False, {1, 2, 3, 4, 5, 6, 8, 9}),
    ("t", "in_list", "bags", {1, 2}),
    ("t", "contains_list", "words", {1, 2, 3, 4, 8}),
    ("t", "startswith_list", "starts", {1, 2, 3, 4, 5, 6}),
    ("n", "eq", 20, {2, 9}),
    ("n", "ne", 20, {1, 3, 4, 5, 6, 8}),
    ("n", "in", (0, 100.0), {4, 6}),
    ("n", "in", (0, 100.0, *range(1000, 1000 + MANY)), {4, 6}),
    ("n", "not_in", (20, -1), {1, 3, 4, 6, 8}),
    ("n", "lt", 10, {4, 5}),
    ("n", "le", 10, {1, 4, 5}),
    ("n", "gt", 20, {3, 6}),
    ("n", "ge", 20, {2, 3, 6, 9}),
    ("n", "between", (10, 20), {1, 2, 8, 9}),  # both ends included
    ("n", "between", (20, 10), set()),  # low above high matches nothing
    ("n", "between", (-1, -1), {5}),
    ("n", "is_null", True, {7}),
    ("d", "eq", D(2024, 1, 31), {2}),
    ("d", "ne", D(2024, 1, 31), {1, 3, 4, 5, 7, 8, 9}),
    ("d", "in", (D(2024, 2, 29), D(2023, 12, 31)), {4, 9}),
    ("d", "not_in", (D(2024, 2, 29),), {1, 2, 3, 4, 5, 7, 8}),
    ("d", "lt", D(2024, 1, 1), {4}),
    ("d", "le", D(2024, 1, 1), {1, 4}),
    ("d", "gt", D(2024, 2, 1), {5, 9}),
    ("d", "ge", D(2024, 2, 1), {3, 5, 9}),
    ("d", "between", (D(2024, 1, 1), D(2024, 2, 1)), {1, 2, 3, 7, 8}),
    ("d", "between", (D(2024, 2, 29), D(2024, 2, 29)), {9}),
    ("d", "is_null", False, {1, 2, 3, 4, 5, 7, 8, 9}),
]


def test_every_operator_has_a_hand_written_case():
    assert {op for _, op, _, _ in CASES} == set(OPERATORS)


@pytest.fixture(scope="module")
def table():
    frame = pl.DataFrame(ROWS, schema={"rid": pl.Int64, "t": pl.String, "n": pl.Float64,
                                        "d": pl.Date}, orient="row")
    con = duckdb.connect(":memory:")
    target_lists_table(con, LISTS)
    con.execute("CREATE TABLE m AS SELECT * FROM frame")
    yield frame, con
    con.close()


@pytest.mark.parametrize("field, op, operand, expected", CASES,
                         ids=[f"{f}-{op}-{i}" for i, (f, op, _, _) in enumerate(CASES)])
def test_operator_in_duckdb_and_polars(table, field, op, operand, expected):
    frame, con = table
    leaf = Leaf(field, op, operand)
    sql, params = compile_sql(leaf, CATALOGUE)
    by_duckdb = {r[0] for r in con.execute(f"SELECT rid FROM m WHERE {sql}", params).fetchall()}
    by_polars = set(frame.filter(compile_polars(leaf, LISTS, CATALOGUE))["rid"].to_list())
    assert by_duckdb == expected, f"DuckDB: {sql} {params}"
    assert by_polars == expected, "Polars"
