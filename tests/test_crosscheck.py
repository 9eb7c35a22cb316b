"""Every scoreboard metric of every bundled rule, recomputed by tests/crosscheck_reference.py.

The reference is plain Polars written from docs/metrics.md alone; the engine is DuckDB SQL.
Both run on a generated history (not the bundled seed) over the full window and two
sub-windows, and on a copy whose exams are perturbed to reach the corners the generator
rarely produces: several exams per shipment, exams dated after the window, null msrp,
penalty/other/missing dispositions, referrals, null referred_to_ice, random discrepant exams.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from crosscheck_reference import scoreboard as reference_scoreboard

from targeting.backtest.registry import SCOREBOARD_COLUMNS
from targeting.backtest.run import backtest, project_window
from targeting.backtest.window import Window
from targeting.generate import generate
from targeting.project import open_project
from targeting.rules.loader import load_rules

REPO = Path(__file__).resolve().parents[1]
RULE_DIRS = [REPO / "rules", REPO / "queries"]
SEED = 20250917  # not the bundled history's seed
SHIPMENTS, MONTHS = 60_000, 24
# Columns where engine and docs/metrics.md disagree (none since referrals were fixed).
KNOWN_DISAGREEMENTS: set[str] = set()
# Columns of prose, not numbers: not recomputed.
PROSE = {"est_note"}


def _config(folder: Path, manifest: Path, exams: Path, lists: Path) -> Path:
    # Older generator versions wrote 'seized'; the contract's word is 'seizure'.
    text = (f"data:\n  manifest: '{manifest}'\n  exams: '{exams}'\n"
            f"  values:\n    disposition: {{seized: seizure}}\n"
            f"rules: ['{RULE_DIRS[0]}']\nqueries: ['{RULE_DIRS[1]}']\nlists: '{lists}'\n")
    path = folder / "targeting.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _perturbed_exams(exams: pl.DataFrame, manifest: pl.DataFrame,
                     rule_ids: list[str]) -> pl.DataFrame:
    """The generated exams plus extra exams with every kind of corner the metrics must handle."""
    rng = np.random.default_rng(SEED)
    examined = exams["shipment_id"].unique().sort().to_numpy()
    picks = np.concatenate([
        rng.choice(manifest["shipment_id"].to_numpy(), 6000, replace=False),  # mostly unexamined
        rng.choice(examined, min(400, len(examined)), replace=False),          # second exams
    ])
    n = len(picks)
    arrival = (pl.DataFrame({"shipment_id": picks})
               .join(manifest.select("shipment_id", "arrival_date", "port_code"), on="shipment_id",
                     how="left", maintain_order="left"))
    discrepant = rng.random(n) < 0.3
    dispositions = np.array(["seizure", "voluntary_abandonment", "refused_entry", "penalty",
                             "other", None], dtype=object)
    methods = np.array(["udr", "query", "observation", "random", "tip", "other"], dtype=object)
    selectors = np.array(rule_ids + [None, "UNKNOWN-1"], dtype=object)
    msrp = np.round(rng.gamma(2.0, 400.0, n), 2).astype(object)
    msrp[rng.random(n) < 0.3] = None
    referred = (rng.random(n) < 0.15).astype(object)
    referred[rng.random(n) < 0.05] = None
    extra = pl.DataFrame({
        "exam_id": [f"XC{i:08d}" for i in range(n)],
        "shipment_id": picks.tolist(),
        "exam_date": arrival.select(  # up to 59 days after arrival, so some fall past `until`
            pl.col("arrival_date") + pl.duration(days=pl.Series(rng.integers(0, 60, n)))
        )["arrival_date"],
        "port_code": arrival["port_code"],
        "result": np.where(discrepant, "discrepant", "no_discrepancy").tolist(),
        "disposition": np.where(discrepant, rng.choice(dispositions, n), None).tolist(),
        "selection_method": rng.choice(methods, n).tolist(),
        "selector_id": rng.choice(selectors, n).tolist(),
        "msrp": np.where(discrepant, msrp, None).tolist(),
        "referred_to_ice": referred.tolist(),
    }, schema_overrides={"disposition": pl.String, "selector_id": pl.String, "msrp": pl.Float64,
                         "referred_to_ice": pl.Boolean})
    return pl.concat([exams, extra], how="diagonal_relaxed")


@pytest.fixture(scope="session")
def histories(tmp_path_factory) -> dict[str, Path]:
    """Config paths of the generated history and of its perturbed copy."""
    gen = tmp_path_factory.mktemp("crosscheck_generated")
    generate(SHIPMENTS, MONTHS, SEED, gen, rule_paths=RULE_DIRS)
    plain = _config(gen, gen / "manifest.parquet", gen / "exams.parquet", gen / "lists")
    perturbed_dir = tmp_path_factory.mktemp("crosscheck_perturbed")
    rule_ids = sorted(r.id for r in load_rules(RULE_DIRS))
    exams = _perturbed_exams(pl.read_parquet(gen / "exams.parquet"),
                             pl.read_parquet(gen / "manifest.parquet"), rule_ids)
    exams.write_parquet(perturbed_dir / "exams.parquet")
    perturbed = _config(perturbed_dir, gen / "manifest.parquet", perturbed_dir / "exams.parquet",
                        gen / "lists")
    return {"generated": plain, "perturbed": perturbed}


@pytest.fixture(scope="session")
def projects(histories) -> dict:
    """Each history opened once; every backtest re-prepares its own window tables."""
    return {name: open_project(path) for name, path in histories.items()}


def _windows(project) -> list[Window]:
    full = project_window(project)
    last6 = project_window(project, last="6m")
    middle = Window(full.since + dt.timedelta(days=200), full.since + dt.timedelta(days=400))
    return [full, last6, middle]


def _compare(project, window: Window, columns=None) -> int:
    """Assert engine == reference for every rule and `columns`; return the cells compared."""
    columns = columns or [c for c in SCOREBOARD_COLUMNS if c not in PROSE]
    rules = load_rules(project.rule_paths)  # validation is not under test here
    udrs = [r for r in rules if r.kind == "udr" and r.status == "active"]
    run = backtest(project, rules, window, reference_udrs=udrs)
    board = run.scoreboard()
    expected, base = _reference(project, rules, window, udrs)
    assert board.columns == SCOREBOARD_COLUMNS
    assert board["id"].to_list() == expected["id"].to_list()
    assert set(expected.columns) >= set(SCOREBOARD_COLUMNS) - PROSE, "the reference misses a column"
    _same_baseline(run.baseline, base)
    cells = 0
    for got, want in zip(board.iter_rows(named=True), expected.iter_rows(named=True)):
        for column in columns:
            _same(got[column], want[column], f"{window} {got['id']} {column}")
            cells += 1
    return cells


def _reference(project, rules, window: Window, udrs) -> tuple[pl.DataFrame, dict]:
    data = project.dataset
    return reference_scoreboard(data.manifest_frame(), data.exams_frame(), rules, window, udrs,
                                data.lists, data.catalogue)


def _same_baseline(got: dict, want: dict) -> None:
    assert set(got) - PROSE == set(want)
    for key, value in want.items():
        _same(got[key], value, f"baseline {key}")


def _same(got, want, where: str) -> None:
    if want is None or got is None:
        assert got is None and want is None, f"{where}: engine {got!r}, reference {want!r}"
    elif isinstance(want, float):
        # abs guards values that are 0 in exact arithmetic (Wilson's lower bound at p = 0).
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), \
            f"{where}: engine {got!r}, reference {want!r}"
    elif isinstance(want, int) and not isinstance(want, bool):
        assert isinstance(got, int) and got == want, f"{where}: engine {got!r}, reference {want!r}"
    else:
        assert got == want, f"{where}: engine {got!r}, reference {want!r}"


@pytest.mark.parametrize("history", ["generated", "perturbed"])
def test_engine_matches_independent_reference(projects, history):
    project = projects[history]
    rules = load_rules(project.rule_paths)
    assert len(rules) >= 30, "the bundled rules were not found"
    columns = [c for c in SCOREBOARD_COLUMNS if c not in KNOWN_DISAGREEMENTS | PROSE]
    cells = sum(_compare(project, w, columns) for w in _windows(project))
    assert cells == 3 * len(rules) * len(columns)


def test_referrals_follow_the_definition(projects):
    project = projects["perturbed"]
    _compare(project, project_window(project), ["referrals"])


def test_history_reaches_the_corners(projects):
    """The comparison means something only if the data exercises each metric."""
    project = projects["perturbed"]
    rules = load_rules(project.rule_paths)
    udrs = [r for r in rules if r.kind == "udr" and r.status == "active"]
    window = project_window(project)
    board, _ = _reference(project, rules, window, udrs)
    for column in ("discrepant", "random_discrepant", "unique_discrepant", "seizures",
                   "abandonments", "refused_entries", "other_outcomes", "referrals"):
        assert board[column].sum() > 0, column
    assert board["max_overlap_id"].null_count() < len(board)
    assert board["lift_within_ports"].drop_nulls().len() > 0


def test_reference_reproduces_the_worked_example():
    """The reference itself against docs/metrics.md's hand-worked numbers on tests/data/tiny."""
    tiny = Path(__file__).parent / "data" / "tiny"
    project = open_project(tiny / "targeting.yaml")
    rules = load_rules([tiny / "queries", tiny / "rules"])
    window = Window(dt.date(2025, 1, 1), dt.date(2025, 2, 28))
    udrs = [r for r in rules if r.kind == "udr"]
    board, base = _reference(project, rules, window, udrs)
    q = next(row for row in board.iter_rows(named=True) if row["id"] == "Q-1")
    assert (base["shipments"], base["examined"], base["discrepant"]) == (7, 6, 4)
    assert base["random_hit_rate"] == pytest.approx(1 / 3)
    assert (q["targeted"], q["examined"], q["discrepant"]) == (3, 3, 2)
    assert (q["hit_rate_low"], q["hit_rate_high"]) == (pytest.approx(0.208, abs=5e-4),
                                                       pytest.approx(0.939, abs=5e-4))
    # ports without its own exams: 1111 (2/3 less s2, its own) = 2/2, 2222 = 1/2; (2·1 + 1·½)/3
    assert q["lift_within_ports"] == pytest.approx((2 / 3) / (2.5 / 3))
    assert q["self_selected_share"] == pytest.approx(1 / 3)
    assert (q["max_overlap_id"], q["max_overlap_jaccard"]) == ("U-1", pytest.approx(0.75))
    outcomes = (q["seizures"], q["refused_entries"], q["msrp_total"], q["referrals"])
    assert outcomes == (1, 1, 1050.0, 1)
    assert _compare(project, window) == len(rules) * (len(SCOREBOARD_COLUMNS) - len(PROSE))
