"""Values reach the database only as bound parameters, and only catalogued fields become SQL."""
from __future__ import annotations

import duckdb
import polars as pl
import pytest

from targeting.compile.polars_expr import compile_polars
from targeting.compile.sql import compile_sql
from targeting.errors import CompileError
from targeting.rules.model import All, Leaf, Not

CATALOGUE = {"description": "text", "declared_value": "number"}
NASTY = ["it's", 'say "hi"', "a;b", "x -- y", "100%_off", "back\\slash", "'; DROP TABLE m; --"]
ROWS = NASTY + ["its", "say hi", "a b", "x  y", "100x_off", "100% off", "1000_off", "backslash",
                "back\\\\slash", None]


@pytest.fixture()
def con():
    connection = duckdb.connect(":memory:")
    connection.execute("CREATE TABLE m AS SELECT * FROM (VALUES (1)) t(x)")  # a table to drop
    connection.register("manifest", pl.DataFrame({"rid": range(len(ROWS)), "description": ROWS,
                                                  "declared_value": [1.0] * len(ROWS)}))
    yield connection
    connection.close()


def rows(con, leaf) -> tuple[set[int], set[int]]:
    sql, params = compile_sql(leaf, CATALOGUE)
    for value in NASTY:
        assert value.lower() not in sql  # never pasted into the text
    frame = con.sql("SELECT * FROM manifest").pl()
    by_polars = set(frame.filter(compile_polars(leaf, {}, CATALOGUE))["rid"].to_list())
    by_duckdb = {r[0] for r in con.execute(f"SELECT rid FROM manifest WHERE {sql}", params).fetchall()}
    return by_duckdb, by_polars


@pytest.mark.parametrize("value", NASTY)
def test_eq_matches_only_the_literal_value(con, value):
    by_duckdb, by_polars = rows(con, Leaf("description", "eq", value))
    assert by_duckdb == by_polars == {ROWS.index(value)}
    assert con.execute("SELECT count(*) FROM m").fetchone() == (1,)  # still there


@pytest.mark.parametrize("op", ["contains", "startswith", "endswith"])
def test_percent_and_underscore_are_ordinary_characters(con, op):
    by_duckdb, by_polars = rows(con, Leaf("description", op, "100%_off"))
    assert by_duckdb == by_polars == {ROWS.index("100%_off")}


def test_backslash_is_literal(con):
    by_duckdb, by_polars = rows(con, Leaf("description", "contains", "back\\slash"))
    assert by_duckdb == by_polars == {ROWS.index("back\\slash")}


def test_in_with_quotes_and_comment_markers(con):
    by_duckdb, by_polars = rows(con, Leaf("description", "in", ("it's", "x -- y")))
    assert by_duckdb == by_polars == {ROWS.index("it's"), ROWS.index("x -- y")}


@pytest.mark.parametrize("name", ['description" OR 1=1 --', "unknown", "rid"])
def test_fields_outside_the_catalogue_are_refused_before_sql(name):
    tree = All((Leaf("declared_value", "gt", 0), Not(Leaf(name, "eq", "x"))))
    with pytest.raises(CompileError, match="not in the data's field catalogue"):
        compile_sql(tree, CATALOGUE)
    with pytest.raises(CompileError, match="not in the data's field catalogue"):
        compile_polars(tree, {}, CATALOGUE)


def test_unknown_dialect_is_refused():
    with pytest.raises(CompileError, match="unknown SQL dialect"):
        compile_sql(Leaf("declared_value", "gt", 0), CATALOGUE, dialect="oracle")
