"""The same data and rules give the same doubles on every run, to the last bit: estimates,
their weight sums and the p-values built on them are evidence that a reviewer signs, and a
plain parallel SUM of doubles added them in the order DuckDB's threads finished (the last
digits changed between runs; dialect.py's float_sum)."""
from __future__ import annotations

import json

import pytest

from targeting.backtest.run import backtest, project_window, ranked_scoreboard
from targeting.generate import generate_project
from targeting.project import open_project
from targeting.render.formats import to_json


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    # Large enough that DuckDB aggregates in parallel (its unit is ~122,880 rows).
    out = tmp_path_factory.mktemp("reproducible") / "marginal"
    generate_project("marginal", out, 300_000, 6, seed=5)
    return out / "targeting.yaml"


def scoreboard_json(config, engine: str) -> str:
    project = open_project(config, engine)
    window = project_window(project)
    run = backtest(project, project.all_rules, window)
    text = to_json({"baseline": run.baseline, "rules": ranked_scoreboard(run).to_dicts()})
    run.close()
    return text


@pytest.mark.parametrize("engine", ["shipments", "grouped"])
def test_two_runs_give_the_same_doubles(config, engine):
    first, second, third = (scoreboard_json(config, engine) for _ in range(3))
    assert json.loads(first)["rules"][0]["est_hit_rate"] is not None
    assert first == second == third
