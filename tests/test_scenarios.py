"""The scenarios state facts; these tests recompute them from the files and hold them to what
each scenario promises, on ten seeds each, and check the logged selection probabilities
against an independent implementation of the mechanism."""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from scenario_histories import ROOT, SEEDS, History, histories

from targeting.cli import main
from targeting.generate import generate_project
from targeting.generate.catalogue import MODE_SHARE, PORTS
from targeting.generate.scenarios import SCENARIOS
from targeting.generate.scenarios.drift import DRIFTING_UDR, PATIENCE, RING_IDS
from targeting.generate.scenarios.snooped import HINDSIGHT, LIST, cutoff_month

NAMES = tuple(SCENARIOS)
REPO_RULES = (ROOT / "rules", ROOT / "queries")


@pytest.fixture(scope="session")
def scenario_histories(tmp_path_factory, worker_id):
    """Scenario name -> its ten histories (generated on first use, shared across workers)."""
    cache: dict[str, list[History]] = {}

    def get(name: str) -> list[History]:
        if name not in cache:
            cache[name] = histories(tmp_path_factory, worker_id, name)
        return cache[name]
    return get


# --- helpers: every fact recomputed from the files -------------------------------------------


def since_created(h: History, rule) -> pl.DataFrame:
    """The shipments a rule matches from its created date, with their truth and exams."""
    frame = h.shipments.filter(h.matches(rule))
    return frame if rule.created is None else frame.filter(pl.col("arrival_date") >= rule.created)


def precision(frame: pl.DataFrame) -> float:
    return float(frame["would_be_found"].mean()) if frame.height else 0.0


def population(h: History) -> float:
    return float(h.truth["would_be_found"].mean())


def finds(h: History) -> pl.DataFrame:
    """Discrepant examined shipments with their manifest and first selector."""
    return h.shipments.filter(pl.col("examined") & pl.col("would_be_found"))


def share(frame: pl.DataFrame, condition: pl.Expr) -> float:
    return float(frame.select(condition.mean()).item())


def wilson(k: int, n: int, z: float = 2.58) -> tuple[float, float]:
    p = k / n
    centre, spread = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


# --- every scenario -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_stated_facts_are_the_files_facts(scenario_histories, name):
    """scenario.json (and so README.md) states what the files hold: population rate, exam
    rate, every pattern's and every rule's true precision, observed and naive hit rates. Catches
    a tally that counts the wrong rows (created dates, re-exams, credited selectors)."""
    h = scenario_histories(name)[0]
    facts = h.facts
    assert facts["population"]["rate"] == pytest.approx(population(h), abs=1e-6)
    assert facts["population"]["exam_rate"] == pytest.approx(
        h.exams["shipment_id"].n_unique() / h.manifest.height, abs=1e-6)
    labels = h.truth.group_by(pl.col("pattern").fill_null("(none)")).agg(
        pl.col("would_be_found").mean())
    stated = {p["name"]: p["precision"] for p in facts["patterns"]}
    assert stated == pytest.approx(dict(labels.iter_rows()), abs=1e-6)
    rows = {r["id"]: r for r in facts["rules"]}
    assert set(rows) == {r.id for r in h.rules}
    for rule in h.rules:
        frame, row = since_created(h, rule), rows[rule.id]
        examined = frame.filter(pl.col("examined"))
        own = frame.filter(pl.col("selector_id") == rule.id)
        assert row["matches_since_created"] == frame.height, rule.id
        assert (row["precision_since_created"] or 0.0) == pytest.approx(precision(frame), abs=1e-6)
        assert row["examined_since_created"] == examined.height, rule.id
        assert row["discrepant_since_created"] == int(examined["would_be_found"].sum()), rule.id
        assert row["own_exams"] == own.height, rule.id
        assert row["own_discrepant"] == int(own["would_be_found"].sum()), rule.id


@pytest.mark.parametrize("name", NAMES)
def test_a_moved_project_validates_and_evaluates(tmp_path, name):
    """The folder is self-contained: written by the CLI, then moved elsewhere, `validate` passes
    (every rule's examples too) and `evaluate` runs. Catches absolute paths in targeting.yaml,
    a list or rule left outside the folder, or rule examples that do not hold on the lists."""
    written = CliRunner().invoke(main, ["fixtures", "generate", "--scenario", name, "--out",
                                        str(tmp_path / "first"), "--shipments", "12000",
                                        "--months", "4", "--seed", "2",
                                        *(["--rules", str(REPO_RULES[0]), "--queries",
                                           str(REPO_RULES[1])] if name == "default" else [])])
    assert written.exit_code == 0, written.output
    moved = tmp_path / "moved"
    (tmp_path / "first").rename(moved)
    config = str(moved / "targeting.yaml")
    validate = CliRunner().invoke(main, ["validate", "--config", config])
    assert validate.exit_code == 0, validate.output
    assert "0 errors" in validate.output
    evaluate = CliRunner().invoke(main, ["evaluate", "--config", config, "--format", "json"])
    assert evaluate.exit_code == 0, evaluate.output


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes(tmp_path, name):
    """Every file of a project (README.md and scenario.json included) is a function of the
    arguments. Catches unseeded randomness, set or dict order leaking into files, timestamps."""
    rules = REPO_RULES if name == "default" else None
    for folder, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_project(name, tmp_path / folder, 10_000, 4, seed, rule_dirs=rules)
    a, b, c = (_digest(tmp_path / f) for f in "abc")
    assert a == b
    assert a["manifest.parquet"] != c["manifest.parquet"]
    assert {"targeting.yaml", "README.md", "scenario.json", "truth.parquet"} <= set(a)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", NAMES)
def test_mean_selection_probability_is_the_exam_rate(scenario_histories, name):
    """The logged probabilities' mean over all shipments equals the share examined, within
    sampling error (exams are independent Bernoulli draws with those probabilities), on every
    seed. Catches logging the demand before capacity, or one selector's p instead of the
    combined one. Every p is positive (random exams)."""
    for h in scenario_histories(name):
        p = h.truth["selection_probability"].to_numpy()
        examined = h.exams["shipment_id"].n_unique()
        sd = math.sqrt(float((p * (1 - p)).sum()))
        assert abs(examined - p.sum()) <= 4 * sd, (h.seed, examined, p.sum(), sd)
        assert p.min() > 0 and p.max() <= 1


@pytest.mark.parametrize("name", NAMES)
def test_horvitz_thompson_recovers_the_number_of_finds(scenario_histories, name):
    """Weighting each examined shipment by 1/p recovers the population's would-be-found total
    (pooled over ten seeds, within 3 standard errors), while the examined shipments alone say
    nothing of it. Catches a logged p that is not the probability actually used."""
    estimate = truth = variance = 0.0
    for h in scenario_histories(name):
        seen = h.shipments.filter(pl.col("examined"))
        y, p = seen["would_be_found"].to_numpy(), seen["selection_probability"].to_numpy()
        estimate += float((y / p).sum())
        variance += float(((1 - p) / p ** 2 * y).sum())
        truth += float(h.truth["would_be_found"].sum())
    assert abs(estimate - truth) <= 3 * math.sqrt(variance), (estimate, truth, math.sqrt(variance))


# --- the mechanism, implemented again ------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "audit"])
def test_selection_probability_recomputed_from_the_mechanism(tmp_path, name):
    """An independent, loop-by-loop implementation of docs/generator.md's selection mechanism
    (officer choice by bisection, rationing port-day by port-day) gives the logged
    selection_probability of every shipment. Catches any drift between the documented
    mechanism and the vectorised one: a wrong rationing order, capacity, take or weight."""
    rules = REPO_RULES if name == "default" else None
    out = tmp_path / name
    generate_project(name, out, 8_000, 3, 5, rule_dirs=rules)
    h = History(out, 5, {})
    world = SCENARIOS[name].world
    expected = _recompute(h, world.selection)
    assert np.allclose(h.shipments["selection_probability"].to_numpy(), expected,
                       rtol=1e-9, atol=1e-12)


def _recompute(h: History, sel) -> np.ndarray:
    frame = h.shipments.with_row_index("row")
    months = frame["arrival_date"].dt.truncate("1mo").unique().sort().to_list()
    days = np.array([calendar.monthrange(m.year, m.month)[1] for m in months])
    trend = 1 + 0.01 * np.arange(len(months))
    per_day = h.manifest.height / float((days * trend).sum())
    shares = _port_shares()
    p = np.zeros(frame.height)
    live = sorted((r for r in h.rules if r.status != "draft"), key=lambda r: (r.kind != "udr", r.id))
    matches = {r.id: h.matches(r).to_numpy() for r in live}
    for index, first in enumerate(months):
        rows = frame.filter(pl.col("arrival_date").dt.truncate("1mo") == first)
        capacity = {port: sel.capacity_by_port.get(port, sel.capacity) * shares[port] * per_day
                    * trend[index] for port in PORTS}
        p[rows["row"].to_numpy()] = _month(rows, capacity, live, matches, sel)
    return p


def _port_shares() -> dict[str, float]:
    shares = dict.fromkeys(PORTS, 0.0)
    for m, mode_share in enumerate(MODE_SHARE):
        total = sum(w[m] for _, w in PORTS.values())
        for port, (_, w) in PORTS.items():
            shares[port] += mode_share * w[m] / total
    return shares


def _month(rows: pl.DataFrame, capacity, live, matches, sel) -> np.ndarray:
    n = rows.height
    s = rows["suspicion"].to_numpy().astype(np.float64)
    ports = rows["port_code"].to_list()
    arrival = rows["arrival_date"].to_list()
    index = rows["row"].to_numpy()
    keep = np.array([1 - sel.random_by_port.get(port, sel.random_rate) for port in ports])
    keep *= 1 - np.minimum(sel.tip_cap, sel.tip_base * np.exp(sel.tip_slope * s))
    stages: dict[str, list[np.ndarray]] = {"udr": [], "query": [], "observation": []}
    for rule in live:
        flags = matches[rule.id][index] & np.array([d >= rule.created for d in arrival])
        share, most = sel.budget_by_rule.get(rule.id, sel.budget[rule.kind])
        take = min(most, share * n / max(1, flags.sum()))
        weight = np.exp(sel.officer_slope * s[flags])
        demand = np.zeros(n)
        demand[flags] = np.minimum(1.0, _bisect(weight, take) * weight)
        stages[rule.kind].append(demand)
    risky = np.array([any(h.startswith(x) for x in ("4202", "910", "640", "711", "9004", "3304",
                                                     "3004")) and mode != "cargo"
                      for h, mode in zip(rows["hts_code"], rows["mode"])])
    weight = np.exp(sel.observation_slope * s)
    stages["observation"].append(np.minimum(1.0, sel.observation_rate * np.where(
        risky, sel.observation_enrich, 1.0) * weight / weight.mean()))
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (port, day) in enumerate(zip(ports, arrival)):
        groups.setdefault((port, day.day), []).append(i)
    for demands in stages.values():
        scaled = [d.copy() for d in demands]
        for (port, _), members in groups.items():
            used = sum(1 - keep[i] for i in members)
            extra = sum(keep[i] * sum(d[i] for d in demands) for i in members)
            room = max(0.0, capacity[port] - used)
            if extra > room:
                for d in scaled:
                    for i in members:
                        d[i] *= room / extra
        for d in scaled:
            keep *= 1 - d
    return 1 - keep


def _bisect(weight: np.ndarray, take: float) -> float:
    """The a with mean(min(1, a w)) = take, found by bisection."""
    if not len(weight) or take <= 0:
        return 0.0
    low, high = 0.0, 1.0 / weight.min() + 1.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if np.minimum(1.0, middle * weight).mean() < take else (low, middle)
    return (low + high) / 2


# --- default ----------------------------------------------------------------------------------


def test_default_is_calibrated_to_the_audit_figures(scenario_histories):
    """Exam rate 1-5% on every seed; pooled over ten seeds: random exams find 0.6-1.4%,
    seizures by mode 64% express / 28.5% mail / cargo <= 10% (+/- 10 points), 83% +/- 8 from
    CN or HK. Catches a selection or truth change that breaks the calibration to the audit."""
    _calibrated(scenario_histories("default"))


def _calibrated(runs: list[History]) -> None:
    for h in runs:
        assert 0.01 <= h.facts["population"]["exam_rate"] <= 0.05, h.seed
    shipments = pl.concat([h.shipments for h in runs])
    random = shipments.filter(pl.col("selection_method") == "random")
    low, high = wilson(int(random["would_be_found"].sum()), random.height)
    assert low <= 0.014 and high >= 0.006, (low, high)
    found = shipments.filter(pl.col("examined") & pl.col("would_be_found"))
    assert abs(share(found, pl.col("mode") == "express") - 0.64) <= 0.10
    assert abs(share(found, pl.col("mode") == "mail") - 0.285) <= 0.10
    assert share(found, pl.col("mode") == "cargo") <= 0.10
    assert abs(share(found, pl.col("country_of_origin").is_in(["CN", "HK"])) - 0.83) <= 0.08


def test_default_rules_own_exams_overstate_their_precision(scenario_histories):
    """Officers examine the matches that look worst, so a rule's own exams over-represent
    violators: pooled over rules and ten seeds, the naive hit rate of each rule's own exams
    exceeds its true precision by more than 30%, and on average per rule. Catches exams drawn
    uniformly from a rule's matches (the naive rate would then be unbiased)."""
    naive = true = 0.0
    gaps = []
    for h in scenario_histories("default"):
        for row in h.facts["rules"]:
            if row["own_exams"] >= 20 and row["precision_since_created"]:
                naive += row["own_discrepant"]
                true += row["own_exams"] * row["precision_since_created"]
                gaps.append(row["naive_hit_rate"] - row["precision_since_created"])
    assert naive > 1.3 * true, (naive, true)
    assert np.mean(gaps) > 2 * np.std(gaps) / math.sqrt(len(gaps)), np.mean(gaps)


def test_promoting_a_query_displaces_other_exams(tmp_path, monkeypatch):
    """Capacity is finite: when JFK's handbag query is run as a UDR (earlier in the rationing
    order, with the same demand), it gets more exams, the expected exams of the other queries
    after it fall (at JFK's busy days, not elsewhere) and walk-throughs get none more. Catches
    unlimited capacity, or rationing that ignores the stated order."""
    default = SCENARIOS["default"]
    selection = default.world.selection   # the same demand as a UDR as it had as a query
    budget = {**selection.budget_by_rule, "UDR-0012": selection.budget["query"]}
    monkeypatch.setitem(SCENARIOS, "default", replace(default, world=replace(
        default.world, selection=replace(selection, budget_by_rule=budget))))
    text = (ROOT / "queries" / "q-4701-0012.yaml").read_text(encoding="utf-8")
    for folder, body in (("as_query", text), ("as_udr", text.replace("kind: query", "kind: udr")
                                                  .replace('port: "4701"\n', "")
                                                  .replace("Q-4701-0012", "UDR-0012"))):
        (tmp_path / folder / "rules").mkdir(parents=True)
        for path in (ROOT / "rules").glob("*.yaml"):
            shutil.copy(path, tmp_path / folder / "rules")
        shutil.copytree(ROOT / "queries", tmp_path / folder / "queries")
        (tmp_path / folder / "queries" / "q-4701-0012.yaml").unlink()
        where = "rules" if folder == "as_udr" else "queries"
        (tmp_path / folder / where / "moved.yaml").write_text(body, encoding="utf-8")
    before, after = (generate_project(
        "default", tmp_path / f"{f}-out", 40_000, 6, 9,
        rule_dirs=(tmp_path / f / "rules", tmp_path / f / "queries")).facts
        for f in ("as_query", "as_udr"))
    own = {f["rules"][i]["id"]: f["rules"][i]["own_expected_exams"]
           for f in (before, after) for i in range(len(f["rules"]))}
    assert own["UDR-0012"] > own["Q-4701-0012"]
    others = [{r["id"]: r["own_expected_exams"] for r in f["rules"] if r["kind"] == "query"
               and r["id"] != "Q-4701-0012"} for f in (before, after)]
    assert sum(others[1].values()) < sum(others[0].values())
    assert all(others[1][q] <= others[0][q] + 1e-9 for q in others[0])
    observation = [f["selection"]["observation"]["expected_exams"] for f in (before, after)]
    assert observation[1] <= observation[0] + 1e-6


# --- marginal ---------------------------------------------------------------------------------


def test_marginal_queries_straddle_the_bar(scenario_histories):
    """On every seed, recomputed from the files: at least 40 queries have a true precision
    between 1x and 3x the population rate, at least 10 lie within 20% below the bar (2x the
    population rate) and 10 within 20% above it, at four or more ports, each with tens of
    exams. Catches planted rates that are not relative to the realised population, or noise
    that scatters the queries away from the bar."""
    for h in scenario_histories("marginal"):
        bar = 2 * population(h)
        ratios, ports, examined = [], set(), []
        for rule in h.rules:
            if rule.kind != "query":
                continue
            frame = since_created(h, rule)
            ratios.append(precision(frame) / bar)
            ports.add(rule.port)
            examined.append(frame["examined"].sum())
        x = np.array(ratios)
        assert ((x >= 0.5) & (x <= 1.5)).sum() >= 40, (h.seed, sorted(x))
        assert ((x >= 0.8) & (x < 1.0)).sum() >= 10, (h.seed, sorted(x))
        assert ((x >= 1.0) & (x <= 1.2)).sum() >= 10, (h.seed, sorted(x))
        assert len(ports) >= 4 and np.median(examined) >= 20, (ports, np.median(examined))
        stated = h.facts["facts"]
        assert stated["just_below_bar"] == ((x >= 0.8) & (x < 1.0)).sum()
        assert stated["just_above_bar"] == ((x >= 1.0) & (x <= 1.2)).sum()


# --- snooped ----------------------------------------------------------------------------------


def test_snooped_query_is_backdated_hindsight(scenario_histories):
    """The hindsight query claims the first day of the history, its list holds exactly the
    importers of exams found discrepant before the list was built, and it selects nothing
    before then. A backtest from its claimed date sees a hit rate far above the bar (it re-finds
    the exams it was built from), while forward of the list its true precision is near the
    population rate (pooled over ten seeds 0.6-1.6x; each seed below the bar). Catches a list
    built from the whole history, a query that is not backdated or that selected before its
    list existed."""
    forward_found = forward_matches = population_found = shipments = 0
    for h in scenario_histories("snooped"):
        rule = next(r for r in h.rules if r.id == HINDSIGHT)
        start = dt.date.fromisoformat(h.facts["start"])
        cutoff = pl.Series(sorted({d.replace(day=1) for d in h.manifest["arrival_date"]})
                           )[cutoff_month(h.facts["months"])]
        assert rule.created == start
        early = finds(h).filter(pl.col("arrival_date") < cutoff)
        listed = (h.path / "lists" / f"{LIST}.txt").read_text().split()
        assert sorted(listed) == sorted(early["importer_id"].unique().to_list())
        frame = since_created(h, rule)
        own = frame.filter(pl.col("selector_id") == HINDSIGHT)
        assert own.height and own["arrival_date"].min() >= cutoff
        seen = frame.filter(pl.col("examined"))
        bar = 2 * population(h)
        assert seen["would_be_found"].mean() > 2 * bar, h.seed
        forward = frame.filter(pl.col("arrival_date") >= cutoff)
        assert precision(forward) < bar, (h.seed, precision(forward), bar)
        forward_found += int(forward["would_be_found"].sum())
        forward_matches += forward.height
        population_found += int(h.truth["would_be_found"].sum())
        shipments += h.manifest.height
        assert h.facts["facts"]["forward_precision"] == pytest.approx(precision(forward), abs=1e-6)
    ratio = (forward_found / forward_matches) / (population_found / shipments)
    assert 0.6 <= ratio <= 1.6, ratio


# --- audit ------------------------------------------------------------------------------------


def test_audit_udrs_make_about_one_percent_of_seizures(scenario_histories):
    """UDRs are credited with 0.5-2% of seizures: pooled over ten seeds, and on every seed in
    expectation (each selector's chance of being credited times would_be_found, from the
    logged mechanism). Queries, observation and tips find at least 90%. Catches a regime where
    UDR alerts are worked as often as queries (the default world's UDRs make half the finds)."""
    runs = scenario_histories("audit")
    found = pl.concat([finds(h) for h in runs])
    udr = share(found, pl.col("selection_method") == "udr")
    assert 0.005 <= udr <= 0.02, udr
    assert share(found, pl.col("selection_method").is_in(["query", "observation", "tip"])) >= 0.9
    for h in runs:
        assert 0.005 <= h.facts["facts"]["udr_expected_share_of_seizures"] <= 0.02, h.seed
    assert h.facts["facts"]["udr_share_of_seizures"] == pytest.approx(
        share(finds(h), pl.col("selection_method") == "udr"), abs=1e-6)


def test_audit_most_ports_record_no_abandonment_or_refusal(scenario_histories):
    """Of the ports with discrepant exams, at most two record an abandonment or a refused
    entry on any seed; the other practice ports leave such outcomes NULL. Catches recording
    knobs that do nothing."""
    for h in scenario_histories("audit"):
        found = h.exams.filter(pl.col("result") == "discrepant").join(
            h.manifest.select("shipment_id", "port_code"), on="shipment_id")
        alternatives = found.filter(pl.col("disposition").is_in(
            ["voluntary_abandonment", "refused_entry"]))["port_code"].unique()
        assert set(alternatives) <= {"4701", "5206"}, h.seed
        assert found["port_code"].n_unique() >= 8
        assert found["disposition"].null_count() > 0


def test_audit_is_calibrated_like_default(scenario_histories):
    """The audit's regime keeps the domain's exam rate, random-exam hit rate, seizure mode
    shares and CN+HK share (pooled over ten seeds). Catches a regime that meets the UDR share
    by distorting everything else."""
    _calibrated(scenario_histories("audit"))


# --- drift ------------------------------------------------------------------------------------


def test_drift_ring_moves_after_enforcement_and_the_udr_decays(scenario_histories):
    """On every seed the ring ships by mail until the UDR has seized its shipments in
    PATIENCE months, then moves to express at the hubs with plain descriptions; the UDR's true
    precision before the move is above twice the bar and after it below the bar. Catches a
    move on a fixed date regardless of enforcement, a ring that keeps matching the UDR, or a
    decay the stated facts do not show."""
    udr_seen = 0
    for h in scenario_histories("drift"):
        ring = h.shipments.filter(pl.col("importer_id").is_in(list(RING_IDS))).with_columns(
            month=pl.col("arrival_date").dt.truncate("1mo"))
        moves = h.facts["facts"]["moves"]
        assert isinstance(moves, list) and len(moves) == 1, h.seed
        moved = dt.date.fromisoformat(moves[0]["month"] + "-01")
        before, after = ring.filter(pl.col("month") < moved), ring.filter(pl.col("month") >= moved)
        assert set(before["mode"]) == {"mail"} and set(after["mode"]) == {"express"}
        assert set(after["port_code"]) <= {"2006", "4196"}
        seized = before.filter((pl.col("selector_id") == DRIFTING_UDR) & pl.col("would_be_found"))
        assert seized["month"].n_unique() == PATIENCE, h.seed
        assert seized["month"].max() < moved
        rule = next(r for r in h.rules if r.id == DRIFTING_UDR)
        frame = since_created(h, rule)
        bar = 2 * population(h)
        early = precision(frame.filter(pl.col("arrival_date") < moved))
        late = precision(frame.filter(pl.col("arrival_date") >= moved))
        assert early > 2 * bar and late < bar, (h.seed, early, late, bar)
        assert h.facts["facts"]["precision_before_move"] == pytest.approx(early, abs=1e-6)
        assert h.facts["facts"]["precision_after_move"] == pytest.approx(late, abs=1e-6)
        udr_seen += 1
    assert udr_seen == len(SEEDS)
