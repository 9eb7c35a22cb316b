"""DuckDB and Polars must select exactly the same rows for every predicate."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from rulegen import CATALOGUE, TreeMaker, random_table

from targeting.compile.english import describe
from targeting.compile.polars_expr import compile_polars
from targeting.compile.sql import compile_sql

TREES = 600


@pytest.fixture(scope="module")
def table():
    frame, lists = random_table(seed=20240601)
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE target_lists (list_name VARCHAR, value VARCHAR)")
    con.executemany("INSERT INTO target_lists VALUES (?, ?)",
                    [(n, v) for n in sorted(lists) for v in sorted(lists[n])])
    con.register("manifest", frame)
    yield frame, lists, con
    con.close()


def selected(frame, lists, con, tree) -> tuple[set[int], set[int]]:
    sql, params = compile_sql(tree, CATALOGUE)
    by_duckdb = {r[0] for r in con.execute(f"SELECT rid FROM manifest WHERE {sql}", params).fetchall()}
    by_polars = set(frame.filter(compile_polars(tree, lists, CATALOGUE))["rid"].to_list())
    return by_duckdb, by_polars


def test_random_trees_select_the_same_rows(table):
    frame, lists, con = table
    maker = TreeMaker(seed=7, lists=lists)
    sizes = []
    for i in range(TREES):
        tree = maker.tree()
        by_duckdb, by_polars = selected(frame, lists, con, tree)
        assert by_duckdb == by_polars, (
            f"tree {i}: {describe(tree)}\n{tree}\n"
            f"only DuckDB: {sorted(by_duckdb - by_polars)[:10]}, "
            f"only Polars: {sorted(by_polars - by_duckdb)[:10]}")
        sizes.append(len(by_duckdb))
    # The trees must exercise both outcomes, not just select nothing (or everything).
    assert sum(0 < s < len(frame) for s in sizes) > TREES // 3


def test_every_operator_is_generated(table):
    _, lists, _ = table
    maker = TreeMaker(seed=7, lists=lists)
    seen = {maker.leaf().op for _ in range(2000)}
    from targeting.rules.model import OPERATORS
    assert seen == set(OPERATORS)


def test_text_folding_agrees_with_normalise():
    """The SQL and Polars spellings of 'ignore case and surrounding spaces' equal text.normalise."""
    import polars as pl
    from rulegen import ODD_TEXT

    from targeting.compile.polars_expr import folded
    from targeting.compile.sql import _folded
    from targeting.text import normalise

    frame = pl.DataFrame({"t": ODD_TEXT})
    con = duckdb.connect(":memory:")
    con.register("x", frame)
    by_sql = [r[0] for r in con.execute(f'SELECT {_folded(chr(34) + "t" + chr(34))} FROM x').fetchall()]
    by_polars = frame.select(folded(pl.col("t")))["t"].to_list()
    assert by_sql == by_polars == [normalise(v) for v in ODD_TEXT]


ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURE = ROOT / "targeting.yaml"  # the bundled project: rules/, queries/, fixtures/default


@pytest.mark.skipif(not (ROOT / "fixtures" / "default" / "manifest.parquet").is_file()
                    or not DEFAULT_FIXTURE.is_file(), reason="fixtures/default not generated")
def test_bundled_rules_select_the_same_shipments_on_bundled_data():
    from targeting.compile.check import check_rules
    from targeting.data.config import load_config
    from targeting.data.open import open_dataset

    config = load_config(DEFAULT_FIXTURE)
    dataset = open_dataset(config)
    rules, problems = check_rules([*config.rule_dirs, *config.query_dirs], dataset.catalogue,
                                  dataset.lists, config.priorities or None)
    assert not [str(p) for p in problems if p.severity == "error"]
    assert rules
    frame = dataset.manifest_frame()
    for rule in rules:
        sql, params = compile_sql(rule.where, dataset.catalogue)
        by_duckdb = {r[0] for r in dataset.con.execute(
            f'SELECT shipment_id FROM "manifest" WHERE {sql}', params).fetchall()}
        by_polars = set(frame.filter(compile_polars(rule.where, dataset.lists, dataset.catalogue))
                        ["shipment_id"].to_list())
        assert by_duckdb == by_polars, rule.id
    dataset.close()
