"""Property: on random rule sets whose size straddles the grouped engine's threshold, the
per-shipment and grouped engines give the same answer to every question a command asks:
scoreboard, baselines, monthly and by-port series, overlaps, samples, coverage, containment
and the promotion and retirement decisions.

The rule sets are random predicate trees (NULLs, odd Unicode, lists, dates) written as rule
files into a project over the awkward random table, so the commands run exactly as they would
on a user's files.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from random_project import random_rules
from test_grouped import assert_same_baseline

from targeting.backtest.run import GROUPED_FROM, backtest, project_window
from targeting.decide.coverage import coverage_of
from targeting.decide.promotion import plain, to_yaml
from targeting.decide.review import build_review
from targeting.project import open_project
from targeting.rules.model import Rule


def _write_project(folder: Path, source: Path, rules: list[Rule]) -> Path:
    """A project reading `source`'s data, with `rules` as rule files."""
    if folder.exists():
        shutil.rmtree(folder)
    for sub in ("rules", "queries"):
        (folder / sub).mkdir(parents=True)
    for rule in rules:
        doc = {"id": rule.id, "kind": rule.kind, "title": rule.title, "status": "active",
               "created": rule.created, "priorities": list(rule.priorities),
               "where": to_yaml(rule.where)}
        if rule.port:
            doc["port"] = rule.port
        sub = "rules" if rule.kind == "udr" else "queries"
        (folder / sub / f"{rule.id.lower()}.yaml").write_text(
            yaml.safe_dump(plain(doc), allow_unicode=True, sort_keys=False), encoding="utf-8")
    config = {"data": {"manifest": str(source / "manifest.parquet"),
                       "exams": str(source / "exams.parquet")},
              "lists": str(source / "lists"),
              "priorities": ["health_safety", "repeat_violators", "automotive_parts"]}
    (folder / "targeting.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder / "targeting.yaml"


def _same(a: pl.DataFrame, b: pl.DataFrame, by: list[str] | None = None) -> None:
    if by:
        a, b = a.sort(by), b.sort(by)
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, check_dtypes=False)


def _same_rows(a: list[dict], b: list[dict]) -> None:
    assert [list(r) for r in a] == [list(r) for r in b]
    for x, y in zip(a, b):
        for key, value in x.items():
            if isinstance(value, float):
                assert y[key] == pytest.approx(value, rel=1e-9), key
            else:
                assert y[key] == value, key


def _answers(config: Path, engine: str) -> dict:
    project = open_project(config, engine)
    window = project_window(project)
    rules = project.all_rules
    run = backtest(project, rules, window)
    some = [0, len(rules) // 2, len(rules) - 1]
    review = build_review(project, window)
    udrs = project.active_udrs()
    return {
        "method": run.method,
        "board": run.scoreboard(), "baseline": run.baseline,
        "monthly": [run.monthly(i) for i in some], "by_port": [run.by_port(i) for i in some],
        "overlaps": [run.overlaps(i) for i in some],
        "sample": [sorted(run.export(i)["shipment_id"].to_list()) for i in some],
        "sample_top": [run.sample(i, 5) for i in some],
        "coverage": coverage_of(project, window).table,
        "containment": backtest(project, udrs, window, udrs).containment(),
        "verdicts": [(v.rule.id, [c.as_dict() for c in v.criteria]) for v in review.verdicts],
        "retire": [(r.rule.id, r.reasons) for r in review.retire],
    }


@settings(max_examples=6, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],  # no shrinking: each example takes seconds
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), count=st.integers(GROUPED_FROM - 4, GROUPED_FROM + 4))
def test_both_engines_answer_every_question_alike(random_project, tmp_path, seed, count):
    project, lists = random_project
    rules = random_rules(lists, count, seed)
    config = _write_project(tmp_path / f"p{seed}", project.config.root, rules)
    a, b = _answers(config, "shipments"), _answers(config, "grouped")
    assert (a["method"], b["method"]) == ("shipments", "grouped")
    assert_same_baseline(a["baseline"], b["baseline"])
    _same(a["board"], b["board"])
    for key in ("monthly", "by_port", "overlaps", "sample_top"):
        for x, y in zip(a[key], b[key]):
            _same_rows(x, y)
    assert a["sample"] == b["sample"]
    _same(a["coverage"], b["coverage"], ["dimension", "group"])
    _same_rows(sorted(a["containment"], key=lambda r: r["rule"]),
               sorted(b["containment"], key=lambda r: r["rule"]))
    assert a["verdicts"] == b["verdicts"] and a["retire"] == b["retire"]
    assert any(row["targeted"] for row in a["board"].to_dicts()), "the rules match nothing"
