"""Ground truth: on freshly generated histories, the default policy promotes the planted real
signals and nothing else, and proposes the decayed UDR for retirement.

Whether a query is "real" is judged from truth.parquet (which the tool never reads): the true
violation rate of the shipments it targets over its evidence window, and the planted pattern
that most of its true violations come from.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from targeting.backtest.run import backtest, project_window
from targeting.decide.policy import decide, load_policy
from targeting.decide.retirement import retirements
from targeting.generate import PATTERNS, generate
from targeting.project import open_project

REPO = Path(__file__).resolve().parents[1]
SEEDS = (20241002, 7)  # not the bundled 20241001
KIND = {p.name: p.kind for p in PATTERNS}
REAL = {"real_national", "emerging"}
FISHING_REELS = "Q-3901-0007"
DECAYING_UDR = "UDR-0002"


@pytest.fixture(scope="module", params=SEEDS)
def history(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"history{request.param}")
    # The bundled rules decide which shipments were examined, as for fixtures/default.
    generate(200_000, 24, request.param, out, rule_paths=[REPO / "rules", REPO / "queries"])
    config = out / "targeting.yaml"
    config.write_text(f"data:\n  manifest: {out / 'manifest.parquet'}\n  exams: {out / 'exams.parquet'}\n"
                      f"lists: {out / 'lists'}\nrules: [{REPO / 'rules'}]\nqueries: [{REPO / 'queries'}]\n"
                      "priorities: [health_safety, national_security, repeat_violators, automotive_parts,"
                      " transshipment_hk]\n", encoding="utf-8")
    project = open_project(config)
    window = project_window(project)
    policy = load_policy(project.config.promotion)
    verdicts = decide(project, window, policy)
    retire = {r.rule.id: r.reasons for r in retirements(project, window, policy)}
    truth = pl.read_parquet(out / "truth.parquet")
    return {"seed": request.param, "verdicts": verdicts, "retire": retire, "truth": truth,
            "targets": _truth_of_targets(project, window, policy, verdicts, truth)}


def _truth_of_targets(project, window, policy, verdicts, truth) -> dict[str, dict]:
    """Per query: how many it targets over its evidence window, their true violation rate, and
    the pattern behind most of their true violations."""
    queries = [v.rule for v in verdicts]
    run = backtest(project, queries, window, [],
                   starts={i: v.evidence_window.since for i, v in enumerate(verdicts)})
    matched = [run.export(i).select("shipment_id").with_columns(rule=pl.lit(i, pl.Int64))
               for i in range(len(queries))]
    hits = pl.concat(matched).join(truth, on="shipment_id")
    found = {}
    for i, query in enumerate(queries):
        mine = hits.filter(pl.col("rule") == i)
        bad = mine.filter(pl.col("violating")).group_by("pattern").len().sort("len", "pattern",
                                                                              descending=[True, False])
        found[query.id] = {"targeted": mine.height,
                           "rate": mine["violating"].mean() if mine.height else 0.0,
                           "pattern": bad["pattern"][0] if bad.height else None}
    return found


def report(history) -> str:
    pop = history["truth"]["violating"].mean()
    lines = [f"seed {history['seed']}, population violation rate {pop:.4f}"]
    for v in history["verdicts"]:
        t = history["targets"][v.rule.id]
        lines.append(f"{v.rule.id} promote={v.promote} scope={v.scope} targeted={t['targeted']} "
                     f"true rate={t['rate']:.3f} "
                     f"({t['rate'] / pop:.1f}x) pattern={t['pattern']} fails={[c.name for c in v.failing]}")
    return "\n".join(lines)


def test_promoted_queries_are_planted_real_signals(history):
    pop = history["truth"]["violating"].mean()
    promoted = [v.rule.id for v in history["verdicts"] if v.promote]
    assert len(promoted) >= 2, report(history)
    for v in history["verdicts"]:
        if not v.promote:
            continue
        t = history["targets"][v.rule.id]
        assert t["rate"] > 3 * pop, f"{v.rule.id} promoted but its targets violate at {t['rate']:.3f}\n" \
                                    + report(history)
        # A pattern confined to one port earns a port UDR, never a national one.
        allowed = REAL if v.scope == "national" else REAL | {"real_local"}
        assert KIND.get(t["pattern"]) in allowed, \
            f"{v.rule.id} promoted ({v.scope}) on {t['pattern']}\n" + report(history)


def test_noise_and_personal_interest_are_not_promoted(history):
    pop = history["truth"]["violating"].mean()
    verdicts = {v.rule.id: v for v in history["verdicts"]}
    assert not verdicts[FISHING_REELS].promote, report(history)
    noise = [q for q, t in history["targets"].items() if t["rate"] < 2 * pop]
    assert FISHING_REELS in noise and len(noise) >= 5, report(history)  # the test has teeth
    assert [q for q in noise if verdicts[q].promote] == [], report(history)


def test_each_new_planted_real_pattern_is_found(history):
    """Every real_national or emerging pattern that some query mostly targets, and no active UDR
    already catches (its novelty criterion passes), is promoted through at least one query.
    (Q-5309-0002's brake pads are UDR-0003's, so they are not new.)"""
    pop = history["truth"]["violating"].mean()
    novel = {v.rule.id for v in history["verdicts"]
             if any(c.name == "novelty" and c.passed for c in v.criteria)}
    wanted = {t["pattern"] for q, t in history["targets"].items()
              if q in novel and KIND.get(t["pattern"]) in REAL and t["rate"] > 10 * pop}
    promoted = {history["targets"][v.rule.id]["pattern"] for v in history["verdicts"] if v.promote}
    assert wanted and wanted <= promoted, report(history)


def test_decayed_udr_is_proposed_for_retirement(history):
    assert DECAYING_UDR in history["retire"], history["retire"]
    assert any(r.startswith("decayed") for r in history["retire"][DECAYING_UDR])
