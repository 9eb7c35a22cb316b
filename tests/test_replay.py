"""`targeting replay`: its decisions are candidates' at each cut-off, its realised estimates
are the rule's estimate after the cut-off computed independently, its JSON has the documented
shape, and a bad --every is a usage error.

The bundled project is replayed at two cut-offs (2026-03-31 and the data's last day,
2026-09-30, with --every 6m) to keep the module fast; tests/data/policy (every exam logs
selection probability 1) holds a hand-worked national promotion.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from targeting.cli import main
from targeting.compile.polars_expr import compile_polars
from targeting.decide.policy import load_policy
from targeting.decide.replay import Step, cutoffs, parse_every, replay
from targeting.errors import TargetingError
from targeting.project import open_project

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "targeting.yaml"
POLICY_DATA = Path(__file__).parent / "data" / "policy"
CUTOFFS = ["2026-03-31", "2026-09-30"]
DECISION_KEYS = {"cutoff", "id", "action", "promised", "promised_low", "realised", "realised_low",
                 "realised_high", "realised_examined"}
Z = 1.959963984540054


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(main, [*args, "--config", str(BUNDLED), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def replayed() -> dict:
    return run_json("replay", "--since", CUTOFFS[0], "--every", "6m")


# ------------------------------------------------------------------- decisions = candidates

@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_decisions_at_a_cutoff_are_what_candidates_proposes(replayed, cutoff):
    review = run_json("candidates", "--until", cutoff)
    made = {(d["id"], d["action"]) for d in replayed["decisions"] if cutoff in d["made_at"]}
    proposed = {(c["id"], "promote") for c in review["candidates"] if c["promote"]}
    proposed |= {(r["id"], "retire") for r in review["retire"]}
    assert proposed and made == proposed
    assert replayed["policy_hash"] == review["policy_hash"]


# ---------------------------------------------------------------- realised, computed directly

def direct_estimate(rule_where, since: dt.date, until: dt.date) -> dict:
    """The Hajek estimate over the rule's matches arriving in [since, until], from the parquet
    files: each examined shipment weighted by 1/p, p the probability logged with its first exam;
    the interval is Wilson's at the with-replacement variance's sample size."""
    data = ROOT / "fixtures" / "default"
    exams = (pl.read_parquet(data / "exams.parquet").sort("exam_date", "exam_id")
             .group_by("shipment_id", maintain_order=True)
             .agg(p=pl.col("selection_probability").first(),
                  y=(pl.col("result") == "discrepant").any()))
    matched = (pl.read_parquet(data / "manifest.parquet")
               .filter(pl.col("arrival_date").is_between(since, until), compile_polars(rule_where))
               .join(exams, on="shipment_id"))
    w, y = 1 / matched["p"], matched["y"].cast(pl.Float64)
    rate = (w * y).sum() / w.sum()
    variance = (w * w * (y - rate) ** 2).sum() / w.sum() ** 2
    n = rate * (1 - rate) / variance
    centre, half = rate + Z * Z / (2 * n), Z * math.sqrt(rate * (1 - rate) / n + Z * Z / (4 * n * n))
    return {"realised": rate, "realised_low": (centre - half) / (1 + Z * Z / n),
            "realised_high": (centre + half) / (1 + Z * Z / n),
            "realised_examined": w.sum() ** 2 / (w * w).sum()}


def test_realised_is_the_estimate_over_the_arrivals_after_the_cutoff(replayed):
    decision = next(d for d in replayed["decisions"]
                    if d["id"] == "Q-5206-0003" and d["cutoff"] == CUTOFFS[0])
    assert (decision["action"], decision["scope"]) == ("promote", "port")
    assert (decision["after_since"], decision["after_until"]) == ("2026-04-01", "2026-09-30")
    query = open_project(BUNDLED).select(["Q-5206-0003"])[0]
    expected = direct_estimate(query.where, dt.date(2026, 4, 1), dt.date(2026, 9, 30))
    for key, value in expected.items():
        assert decision[key] == pytest.approx(value, rel=1e-9), key


def test_nothing_is_realised_after_the_last_day_of_data(replayed):
    last = [d for d in replayed["decisions"] if d["cutoff"] == CUTOFFS[1]]
    assert all(d["realised"] is None and d["after_since"] is None for d in last)


LENIENT = {"min_examined": 1, "min_discrepant": 1, "min_hit_rate": 0.1, "lift_factor": 0.0,
           "min_ports": 2, "min_months": 1, "recent_months": 2, "min_unique": 1,
           "max_flags_per_day": 1}


def test_a_national_promotion_is_realised_by_its_national_projection():
    # At 2025-03-31 Q-1 ("bag" at 1111, evidence from 2025-02-01) has b2, b3, b4 examined (2
    # discrepant); outside 1111 its projection has b5 (discrepant): with these floors it
    # transfers. After the cut-off the projection matches b6 (3333, discrepant, p = 1) and b7
    # (1111, not examined): 1/1. Q-1 as written matches only b7, which nobody examined.
    project = open_project(POLICY_DATA / "targeting.yaml")
    result = replay(project, "1m", since="2025-03-31", policy=load_policy(LENIENT))
    assert result.cutoffs == [dt.date(2025, 3, 31), dt.date(2025, 4, 20)]
    q1 = next(d for d in result.decisions if d.id == "Q-1")
    assert (q1.cutoff, q1.action, q1.scope) == (dt.date(2025, 3, 31), "promote", "national")
    assert q1.promised == pytest.approx(2 / 3)
    assert q1.realised["est_hit_rate"] == 1.0 and q1.realised["est_examined"] == 1.0
    assert q1.realised["est_hit_rate_low"] == pytest.approx(1 / (1 + Z * Z))
    assert q1.bar == 0.1 and q1.position(1) == "above"
    assert q1.made_at == result.cutoffs and q1 in result.made_at(dt.date(2025, 4, 20))


# ------------------------------------------------------------------------------- JSON shape

def test_json_shape(replayed):
    assert replayed["cutoffs"] == CUTOFFS
    assert len(replayed["policy_hash"]) == 64
    for d in replayed["decisions"]:
        assert set(d) >= DECISION_KEYS
        assert d["action"] in ("promote", "retire") and d["cutoff"] in replayed["cutoffs"]
        assert d["cutoff"] == d["made_at"][0]
        numbers = DECISION_KEYS - {"cutoff", "id", "action"}
        assert all(d[k] is None or isinstance(d[k], float) for k in numbers)
    # Each rule once per action, at the first cut-off that made it.
    assert len({(d["id"], d["action"]) for d in replayed["decisions"]}) == len(replayed["decisions"])


def test_table_and_html_write_to_a_file(tmp_path):
    project = tmp_path / "policy"
    shutil.copytree(POLICY_DATA, project)
    config = project / "targeting.yaml"
    # Into the file's own promotion section, which it keeps last for this: a second
    # `promotion:` would be a repeated key.
    config.write_text(config.read_text() + "".join(f"  {k}: {v}\n" for k, v in LENIENT.items()))
    for fmt in ("table", "html"):
        out = tmp_path / f"replay.{fmt}"
        result = CliRunner().invoke(main, ["replay", "--config", str(config), "--since",
                                           "2025-03-31", "--format", fmt, "--output", str(out)])
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert "Q-1" in text and "promote (national)" in text
    page = (tmp_path / "replay.html").read_text()
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert "Promotions: 1; 1 delivered above the bar" in (tmp_path / "replay.table").read_text()


# ----------------------------------------------------------------------------- cut-offs, --every

def test_monthly_cutoffs_keep_month_ends_and_end_on_the_last_day():
    assert cutoffs(dt.date(2025, 1, 31), dt.date(2025, 4, 15), Step(1, "m")) == [
        dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31), dt.date(2025, 4, 15)]
    assert cutoffs(dt.date(2025, 1, 15), dt.date(2025, 2, 1), parse_every("14d")) == [
        dt.date(2025, 1, 15), dt.date(2025, 1, 29), dt.date(2025, 2, 1)]


@pytest.mark.parametrize("every", ["2w", "0m", "m", "1.5m", ""])
def test_a_bad_every_is_a_usage_error_naming_the_option(every):
    result = CliRunner().invoke(main, ["replay", "--every", every, "--config", str(BUNDLED)])
    assert result.exit_code == 2
    assert "Invalid value for '--every'" in result.output
    assert f"{every!r} is not a period" in result.output and "such as 1m, 3m or 14d" in result.output
    with pytest.raises(TargetingError):
        parse_every(every)
