"""The grouped engine (many rules) counts exactly what the per-shipment engine counts."""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from rulegen import CATALOGUE, TreeMaker, random_table

from targeting.backtest.run import backtest, project_window
from targeting.backtest.window import Window
from targeting.project import open_project
from targeting.rules.model import Rule

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def random_project(tmp_path_factory):
    """The differential tests' awkward table as a manifest, with random exams and lists."""
    folder = tmp_path_factory.mktemp("grouped")
    frame, lists = random_table(seed=7, rows=400)
    rng = random.Random(11)
    start = dt.date(2025, 1, 1)
    manifest = frame.drop("rid").with_columns(
        shipment_id=pl.Series([f"S{i:04d}" for i in range(frame.height)]),
        arrival_date=pl.Series([start + dt.timedelta(days=rng.randint(0, 150)) for _ in range(frame.height)]),
        port_code=pl.Series([rng.choice(["1111", "2222", "3333", None]) or "4444" for _ in range(frame.height)]),
    )
    manifest.write_parquet(folder / "manifest.parquet")
    _exams(manifest, rng).write_parquet(folder / "exams.parquet")
    (folder / "lists").mkdir()
    for name, values in lists.items():
        (folder / "lists" / f"{name}.txt").write_text("".join(v + "\n" for v in sorted(values)))
    (folder / "targeting.yaml").write_text(
        "data:\n  manifest: manifest.parquet\n  exams: exams.parquet\nlists: lists\n")
    return open_project(folder / "targeting.yaml"), lists


def _exams(manifest: pl.DataFrame, rng: random.Random) -> pl.DataFrame:
    rows = []
    for sid in manifest["shipment_id"]:
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
            discrepant = rng.random() < 0.4
            rows.append({
                "exam_id": f"E{len(rows):05d}", "shipment_id": sid,
                "result": "discrepant" if discrepant else "no_discrepancy",
                "disposition": rng.choice(["seizure", "voluntary_abandonment", "refused_entry", "other", None])
                if discrepant else None,
                "selection_method": rng.choice(["udr", "query", "random", "tip", None]),
                "selector_id": rng.choice(["R-0001", "R-0002", "R-0007", None]),
                "msrp": rng.choice([None, 10.0, 250.5]),
                "referred_to_ice": rng.random() < 0.2,
            })
    return pl.DataFrame(rows)


def random_rules(lists, count: int, seed: int) -> list[Rule]:
    maker = TreeMaker(seed, lists)
    return [Rule(id=f"R-{i:04d}", kind="udr" if i % 4 == 0 else "query", title="random",
                 where=maker.tree(), path="random") for i in range(count)]


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
    assert a.baseline == b.baseline
    assert_frame_equal(a.scoreboard(), b.scoreboard(), check_exact=False, rel_tol=1e-9)


def test_prospective_starts_and_a_sub_window_count_the_same(random_project):
    project, lists = random_project
    rules = random_rules(lists, 60, 99)
    rng = random.Random(5)
    starts = {i: dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(-10, 160))
              for i in range(len(rules)) if rng.random() < 0.6}
    window = Window(dt.date(2025, 2, 1), dt.date(2025, 4, 30))
    a, b = both(project, rules, window, starts)
    assert a.baseline == b.baseline
    assert_frame_equal(a.scoreboard(), b.scoreboard(), check_exact=False, rel_tol=1e-9)


def test_bundled_rules_count_the_same_on_bundled_data():
    project = open_project(ROOT / "targeting.yaml")
    rules = project.all_rules
    a, b = both(project, rules, project_window(project))
    assert a.baseline == b.baseline
    assert_frame_equal(a.scoreboard(), b.scoreboard(), check_exact=False, rel_tol=1e-9)


def test_catalogue_covers_the_generated_fields(random_project):
    project, _ = random_project
    assert set(CATALOGUE) <= set(project.dataset.catalogue)


def test_udr_containment_is_the_same(random_project):
    project, lists = random_project
    rules = [r for r in random_rules(lists, 60, 42)]
    udrs = [r for r in rules if r.kind == "udr"]
    window = project_window(project)
    a = backtest(project, udrs, window, udrs, method="shipments").containment()
    b = backtest(project, udrs, window, udrs, method="grouped").containment()
    assert a.height > 0
    assert_frame_equal(a.sort("rule"), b.sort("rule"), check_exact=False, rel_tol=1e-9, check_dtypes=False)


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
