"""The grouped engine (many rules) counts exactly what the per-shipment engine counts."""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from random_project import random_rules
from rulegen import CATALOGUE

from targeting.backtest.run import backtest, project_window
from targeting.backtest.window import Window
from targeting.project import open_project

ROOT = Path(__file__).resolve().parents[1]


def assert_same_baseline(a: dict, b: dict) -> None:
    """Equal counts; rates and weight sums equal to rounding (the engines sum in other orders)."""
    assert set(a) == set(b)
    for key, value in a.items():
        if isinstance(value, float):
            assert b[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert b[key] == value, key


def both(project, rules, window, starts=None):
    udrs = [r for r in rules if r.kind == "udr"]
    a = backtest(project, rules, window, udrs, starts=starts, method="shipments")
    b = backtest(project, rules, window, udrs, starts=starts, method="grouped")
    return a, b


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_trees_count_the_same(random_project, seed):
    project, lists = random_project
    rules = random_rules(lists, 60, seed)
    a, b = both(project, rules, project_window(project))
    assert_same_baseline(a.baseline, b.baseline)
    assert_frame_equal(a.scoreboard(), b.scoreboard(), check_exact=False, rel_tol=1e-9)


def test_prospective_starts_and_a_sub_window_count_the_same(random_project):
    project, lists = random_project
    rules = random_rules(lists, 60, 99)
    rng = random.Random(5)
    starts = {i: dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(-10, 160))
              for i in range(len(rules)) if rng.random() < 0.6}
    window = Window(dt.date(2025, 2, 1), dt.date(2025, 4, 30))
    a, b = both(project, rules, window, starts)
    assert_same_baseline(a.baseline, b.baseline)
    assert_frame_equal(a.scoreboard(), b.scoreboard(), check_exact=False, rel_tol=1e-9)


def test_bundled_rules_count_the_same_on_bundled_data():
    project = open_project(ROOT / "targeting.yaml")
    rules = project.all_rules
    a, b = both(project, rules, project_window(project))
    assert_same_baseline(a.baseline, b.baseline)
    assert_frame_equal(a.scoreboard(), b.scoreboard(), check_exact=False, rel_tol=1e-9)


def test_catalogue_covers_the_generated_fields(random_project):
    project, _ = random_project
    assert set(CATALOGUE) <= set(project.dataset.catalogue)


def test_udr_containment_is_the_same(random_project):
    project, lists = random_project
    rules = random_rules(lists, 60, 42)
    udrs = [r for r in rules if r.kind == "udr"]
    window = project_window(project)
    a = pl.DataFrame(backtest(project, udrs, window, udrs, method="shipments").containment())
    b = pl.DataFrame(backtest(project, udrs, window, udrs, method="grouped").containment())
    assert a.height > 0
    assert_frame_equal(a.sort("rule"), b.sort("rule"), check_exact=False, rel_tol=1e-9,
                       check_dtypes=False)


@pytest.mark.parametrize("packed_bits, bigint_bits", [(126, 1), (1, 1)])
def test_wide_signatures_as_hugeint_or_struct_count_the_same(random_project, monkeypatch, packed_bits,
                                                             bigint_bits):
    from targeting.backtest import grouped

    monkeypatch.setattr(grouped, "PACKED_BITS", packed_bits)
    monkeypatch.setattr(grouped, "BIGINT_BITS", bigint_bits)
    project, lists = random_project
    rules = random_rules(lists, 40, 77)
    a, b = both(project, rules, project_window(project))
    assert_frame_equal(a.scoreboard(), b.scoreboard(), check_exact=False, rel_tol=1e-9)


@pytest.mark.parametrize("count", [0, 1, 2, 7, 64])
def test_numeric_buckets_number_the_intervals_between_constants(count):
    """The binary-search bucket equals 1 + #constants below + #constants at or below."""
    import duckdb

    from targeting.backtest.grouped import _bucket_sql
    from targeting.rules.model import Leaf

    rng = random.Random(count)
    constants = sorted({rng.randint(-50, 50) for _ in range(count)})
    leaves = [Leaf("v", "gt", float(c)) for c in constants]
    sql, params = _bucket_sql("v", leaves)
    values = [None] + [x / 2 for x in range(-120, 121)]
    con = duckdb.connect()
    con.execute("CREATE TABLE w (v DOUBLE)")
    con.executemany("INSERT INTO w VALUES (?)", [[v] for v in values])
    got = dict(con.execute(f"SELECT v, {sql} FROM w", list(params)).fetchall())
    for v in values:
        want = 0 if v is None else 1 + sum(c < v for c in constants) + sum(c <= v for c in constants)
        assert got[v] == want, v
