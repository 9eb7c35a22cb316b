"""The synthetic history generator: contract, determinism and calibration to the audit figures."""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from targeting.cli import main
from targeting.generate import PATTERNS, generate, patterns_table
from targeting.generate.catalogue import PORTS
from targeting.generate.patterns import emerge_month
from targeting.generate.scenarios.default import NO_DISPOSITION

ROOT = Path(__file__).resolve().parents[1]
RULES = [ROOT / "rules", ROOT / "queries"]
MANIFEST_COLUMNS = {
    "shipment_id": pl.String, "arrival_date": pl.Date, "port_code": pl.String,
    "mode": pl.String, "importer_id": pl.String, "consignee_id": pl.String,
    "shipper_id": pl.String, "shipper_name": pl.String, "shipper_country": pl.String,
    "manufacturer_id": pl.String, "country_of_origin": pl.String,
    "country_of_export": pl.String, "hts_code": pl.String, "description": pl.String,
    "quantity": pl.Int64, "declared_value": pl.Float64, "weight_kg": pl.Float64,
    "carrier_code": pl.String,
}


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict[str, pl.DataFrame]:
    out = tmp_path_factory.mktemp("history")
    generate(100_000, 24, 11, out, rule_paths=RULES)
    tables = {t: pl.read_parquet(out / f"{t}.parquet") for t in ("manifest", "exams", "truth")}
    return {**tables, "out": out}


def _digest(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _seizures(history) -> pl.DataFrame:
    hits = history["exams"].filter(pl.col("result") == "discrepant").unique("shipment_id")
    return hits.join(history["manifest"], on="shipment_id")


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate(20_000, 6, seed, tmp_path / name, rule_paths=RULES)
    a, b, c = (_digest(tmp_path / n) for n in "abc")
    assert set(a) == {"manifest.parquet", "exams.parquet", "truth.parquet",
                      "lists/repeat_violators.txt", "lists/trusted_importers.txt"}
    assert a == b
    assert a["manifest.parquet"] != c["manifest.parquet"]


def test_manifest_contract(history):
    m = history["manifest"]
    assert dict(m.schema) == MANIFEST_COLUMNS
    assert m["shipment_id"].n_unique() == len(m) == 100_000
    assert m["hts_code"].str.contains(r"^\d{10}$").all()
    assert set(m["port_code"].unique()) <= set(PORTS) and m["port_code"].n_unique() >= 15
    assert set(m["mode"].unique()) == {"express", "mail", "cargo"}
    assert m.null_count().sum_horizontal().item() == 0


def test_truth_covers_every_shipment(history):
    """Catches truth drawn only for examined shipments, a would_be_found that is not
    violating-and-detected, or an exam whose result differs from its shipment's would_be_found."""
    t = history["truth"]
    assert t["shipment_id"].equals(history["manifest"]["shipment_id"])
    assert t.null_count().drop("pattern").sum_horizontal().item() == 0
    assert set(t["pattern"].drop_nulls().unique()) <= set(patterns_table()["name"])
    assert not (t["would_be_found"] & ~t["violating"]).any()
    missed = t.filter(pl.col("violating")).group_by("exam_type").agg(pl.col("would_be_found").mean())
    assert len(missed) == 3 and (missed["would_be_found"] < 0.97).all()   # detection < 1
    exams = history["exams"].join(t, on="shipment_id")
    assert ((exams["result"] == "discrepant") == exams["would_be_found"]).all()
    assert (exams["selection_probability"] == exams["selection_probability_right"]).all()
    assert (exams["exam_type"] == exams["exam_type_right"]).all()
    assert (t["selection_probability"] > 0).all() and (t["selection_probability"] <= 1).all()


def test_exam_rate_between_1_and_5_percent(history):
    rate = history["exams"]["shipment_id"].n_unique() / len(history["manifest"])
    assert 0.01 <= rate <= 0.05


def test_random_exams_find_about_one_percent(history):
    expected = history["truth"]["would_be_found"].mean()   # what a random exam finds
    assert 0.006 <= expected <= 0.014
    random = history["exams"].filter(pl.col("selection_method") == "random")
    k, n = int((random["result"] == "discrepant").sum()), len(random)
    low, high = _wilson(k, n)
    assert n > 300 and low <= 0.014 and high >= 0.006   # consistent with the 0.6-1.4% target


def test_seizure_mode_shares_follow_fy2018(history):
    share = _seizures(history)["mode"].value_counts(normalize=True)
    share = dict(zip(share["mode"], share["proportion"]))
    assert abs(share["express"] - 0.64) <= 0.10
    assert abs(share["mail"] - 0.285) <= 0.10
    assert share.get("cargo", 0.0) <= 0.10


def test_china_and_hong_kong_make_most_seizures(history):
    cn_hk = _seizures(history)["country_of_origin"].is_in(["CN", "HK"]).mean()
    assert abs(cn_hk - 0.83) <= 0.08


def test_dispositions_only_for_discrepant_exams(history):
    """Catches dispositions on clean exams, or recorded at the ports that record none, or missing
    at the ports that do."""
    e = history["exams"].join(history["manifest"].select("shipment_id", "declared_value",
                                                         "port_code"), on="shipment_id")
    found = e.filter(pl.col("result") == "discrepant")
    clean = e.filter(pl.col("result") != "discrepant")
    assert clean["disposition"].null_count() == len(clean)
    quiet = found["port_code"].is_in(sorted(NO_DISPOSITION))
    assert quiet.any() and found.filter(quiet)["disposition"].null_count() == quiet.sum()
    assert found.filter(~quiet)["disposition"].null_count() == 0
    assert set(found["disposition"].drop_nulls().unique()) <= {
        "seizure", "voluntary_abandonment", "refused_entry"}
    assert (found["msrp"] > found["declared_value"]).all()
    assert set(e["selection_method"].unique()) == {"udr", "query", "observation", "random", "tip"}
    rules = e.filter(pl.col("selection_method").is_in(["udr", "query"]))
    assert rules["selector_id"].null_count() == 0


def test_pattern_kinds_and_timing(history):
    kinds = set(patterns_table()["kind"])
    assert {"real_national", "real_local", "none", "decaying", "emerging"} <= kinds
    joined = history["truth"].join(history["manifest"], on="shipment_id").with_columns(
        month=(pl.col("arrival_date").dt.year() - 2024) * 12 + pl.col("arrival_date").dt.month() - 10)
    pens = joined.filter(pl.col("pattern") == "weight_loss_pens")
    assert pens["month"].min() == emerge_month(24)
    late = joined.filter((pl.col("pattern") == "mail_sneakers") & (pl.col("month") >= 18))
    assert late["p_violation"].max() < 0.02                   # the decayed pattern is gone
    reels = joined.filter(pl.col("pattern") == "fishing_reels")["p_violation"].mean()
    assert reels < 2 * joined.filter(pl.col("pattern").is_null())["p_violation"].mean()
    assert len(PATTERNS) + 1 == len(patterns_table())


def test_referrals_follow_their_finds(history):
    """Catches referrals on clean exams, referral columns filled without a referral, or a
    referral dated before its exam."""
    e = history["exams"]
    referred = e.filter(pl.col("referred_to_ice"))
    assert len(referred) > 0 and (referred["result"] == "discrepant").all()
    assert referred.select("referral_date", "referral_accepted", "referral_outcome"
                           ).null_count().sum_horizontal().item() == 0
    assert (referred["referral_date"] >= referred["exam_date"]).all()
    declined = referred.filter(~pl.col("referral_accepted"))["referral_outcome"]
    assert (declined == "declined").all()
    rest = e.filter(~pl.col("referred_to_ice"))
    assert rest.select("referral_date", "referral_accepted", "referral_outcome"
                       ).null_count().sum_horizontal().item() == 3 * len(rest)


def test_cli_writes_the_project(tmp_path):
    """The CLI writes the whole project, the default scenario with copies of the given rule
    folders. Catches a command that writes only the data, or copies the wrong folders."""
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["fixtures", "generate", "--shipments", "5000",
                                       "--months", "3", "--seed", "1", "--out", str(out),
                                       "--rules", str(RULES[0]), "--queries", str(RULES[1])])
    assert result.exit_code == 0, result.output
    assert "5,000 rows" in result.output
    assert {p.name for p in out.iterdir()} == {
        "targeting.yaml", "rules", "queries", "lists", "manifest.parquet", "exams.parquet",
        "truth.parquet", "README.md", "scenario.json"}
    assert (out / "lists" / "repeat_violators.txt").exists()
    assert sorted(p.name for p in (out / "queries").iterdir()) == sorted(
        p.name for p in RULES[1].iterdir())


def test_cli_refuses_bad_input_with_exit_2(tmp_path):
    """Catches a CLI that overwrites a folder it did not write, takes rule folders for a scenario
    that writes its own, or accepts an unknown scenario."""
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    cases = [
        (["--out", str(tmp_path / "busy")], "is not empty; choose an empty folder, or pass --force"),
        (["--scenario", "marginal", "--rules", str(RULES[0]), "--out", str(tmp_path / "m")],
         "--rules and --queries apply to the default scenario only; 'marginal' writes its own"),
        (["--scenario", "nope", "--out", str(tmp_path / "n")], "'nope' is not one of"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(main, ["fixtures", "generate", "--shipments", "1000", *args])
        assert result.exit_code == 2, result.output
        assert message in result.output
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_cli_lists_the_scenarios():
    """Catches a scenario missing from the listing (or the registry)."""
    result = CliRunner().invoke(main, ["fixtures", "scenarios"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == [
        "default", "marginal", "snooped", "audit", "drift"]


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre, spread = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


def test_large_months_are_drawn_in_parts_with_unbroken_ids(tmp_path, monkeypatch):
    """A month over PART_ROWS is drawn in parts (bounded memory); ids stay consecutive."""
    import targeting.generate.history as gen
    whole = generate(20_000, 2, 3, tmp_path / "whole", rule_paths=RULES)
    monkeypatch.setattr(gen, "PART_ROWS", 3_000)
    for name in ("a", "b"):
        counts = generate(20_000, 2, 3, tmp_path / name, rule_paths=RULES)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["manifest.parquet"] != _digest(tmp_path / "whole")[
        "manifest.parquet"]
    assert counts["manifest"] == whole["manifest"] == 20_000
    m = pl.read_parquet(tmp_path / "a" / "manifest.parquet")
    expected = [f"SH{i:010d}" for i in range(1, 20_001)]
    assert m["shipment_id"].to_list() == expected
    exams = pl.read_parquet(tmp_path / "a" / "exams.parquet")
    assert exams["exam_id"].to_list() == [f"EX{i:010d}" for i in range(1, len(exams) + 1)]
    assert exams["shipment_id"].is_in(m["shipment_id"].implode()).all()
    assert 0.01 <= exams["shipment_id"].n_unique() / len(m) <= 0.05
