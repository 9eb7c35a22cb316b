"""`targeting gate` on a small git project: each way a change must fail, and harmless ones pass."""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from gate_project import cli, git, make_project, merge_to_main, outcome

from targeting.cli import main
from targeting.decide import ledger
from targeting.errors import ConfigError
from targeting.gate import load_settings
from targeting.gate.cache import CACHE_DIR


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("template") / "repo")


@pytest.fixture
def repo(template, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def gate(root: Path, *args: str):
    result = CliRunner().invoke(main, ["gate", "--config", str(root / "targeting.yaml"), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def checks(root: Path, *args: str) -> dict[tuple[str, str], dict]:
    out = root / "gate.json"
    result = gate(root, "--json", str(out), *args)
    doc = json.loads(out.read_text())
    doc["exit"] = result.exit_code
    return doc


def test_no_change_passes(repo):
    result = gate(repo)
    assert result.exit_code == 0, result.output
    assert "no rule or query files added, changed or removed" in result.output
    assert "PASS: 0 failures" in result.output


def test_harmless_changes_pass(repo):
    edit(repo / "rules/udr-0001.yaml", "title: Auto parts from CN", "title: Brake parts from China")
    edit(repo / "queries/q-0001-0001.yaml", '    - hts_code: {startswith: "8512"}\n',
         '    - hts_code: {startswith: "8512"}\n    - country_of_origin: {in: [CN, VN]}\n')
    edit(repo / "queries/q-0001-0001.yaml", '{port_code: P1, hts_code: "8512200000"}',
         '{port_code: P1, hts_code: "8512200000", country_of_origin: CN}')
    doc = checks(repo)
    assert doc["exit"] == 0, doc["checks"]
    assert {c["id"]: c["change"] for c in doc["changes"]} == {"UDR-0001": "changed",
                                                              "Q-0001-0001": "changed"}
    assert outcome(doc, "UDR-0001", "effectiveness") == "pass"
    assert outcome(doc, "UDR-0001", "regression") == "pass"
    udr = next(c for c in doc["changes"] if c["id"] == "UDR-0001")
    assert udr["before"] == udr["after"]  # a new title matches the same shipments


def test_new_udr_below_floor_fails(repo):
    # German auto parts: examined like the rest, discrepant at about the baseline rate
    text = (repo / "rules/udr-0001.yaml").read_text().replace("UDR-0001", "UDR-0003")
    text = text.replace("country_of_origin: CN", "country_of_origin: @").replace(
        "country_of_origin: DE", "country_of_origin: CN").replace("country_of_origin: @",
                                                                  "country_of_origin: DE")
    (repo / "rules/udr-0003.yaml").write_text(text)
    doc = checks(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "UDR-0003", "effectiveness") == "fail"
    assert outcome(doc, "UDR-0003", "promotion") == "warn"  # written by hand
    message = next(c["message"] for c in doc["checks"] if c["name"] == "effectiveness"
                   and c["rule"] == "UDR-0003")
    assert "< floor" in message


def test_changed_udr_hit_rate_drop_fails(repo):
    edit(repo / "rules/udr-0001.yaml", "    - country_of_origin: CN\n",
         "    - country_of_origin: {in: [CN, DE]}\n")
    edit(repo / "rules/udr-0001.yaml", "no_match:\n    - {hts_code: \"8708300000\", country_of_origin: DE}",
         "no_match:\n    - {hts_code: \"8708300000\", country_of_origin: US}")
    doc = checks(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "UDR-0001", "regression") == "fail"
    message = next(c["message"] for c in doc["checks"] if c["name"] == "regression")
    assert "estimated precision" in message


def test_changed_udr_workload_growth_fails(repo):
    edit(repo / "rules/udr-0002.yaml", "    - country_of_origin: CN\n",
         "    - country_of_origin: {in: [CN, VN]}\n")
    doc = checks(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "UDR-0002", "regression") == "fail"
    message = next(c["message"] for c in doc["checks"] if c["name"] == "regression")
    assert "workload grew" in message and "tolerance +25%" in message
    # The branch cannot loosen the tolerance it is judged by: that is a policy change.
    with open(repo / "targeting.yaml", "a") as handle:
        handle.write("gate:\n  max_workload_growth: 2.0\n")
    doc = checks(repo)
    assert doc["exit"] == 1 and outcome(doc, "UDR-0002", "regression") == "fail"
    assert outcome(doc, "settings", "policy-change") == "fail"
    # Recorded and merged first, the looser tolerance lets the same change through.
    git(repo, "stash", "-q")
    with open(repo / "targeting.yaml", "a") as handle:
        handle.write("gate:\n  max_workload_growth: 2.0\n")
    recorded = cli(repo, "policy-change", "--reviewer", "ntc", "--reason", "capacity doubled")
    assert recorded.exit_code == 0, recorded.output
    assert checks(repo)["exit"] == 0
    merge_to_main(repo, "policy: workload tolerance 200%")
    git(repo, "stash", "pop", "-q")
    doc = checks(repo)
    assert doc["exit"] == 0 and outcome(doc, "UDR-0002", "regression") == "pass"


def test_query_turned_udr_without_promotion_fails(repo):
    edit(repo / "queries/q-0001-0001.yaml", "kind: query", "kind: udr")
    doc = checks(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "Q-0001-0001", "promotion") == "fail"
    assert "turns from query into udr" in json.dumps(doc["checks"])


def test_promoted_udr_needs_its_promote_entry(repo):
    text = (repo / "queries/q-0001-0001.yaml").read_text()
    udr = (repo / "rules/udr-0002.yaml").read_text().replace("UDR-0002", "UDR-0009")
    (repo / "rules/udr-0009.yaml").write_text(udr + "promoted_from: Q-0001-0001\n")
    (repo / "queries/q-0001-0001.yaml").write_text(text.replace("status: active", "status: promoted"))
    doc = checks(repo)
    assert outcome(doc, "UDR-0009", "promotion") == "fail"
    assert "no promotion of Q-0001-0001 to UDR-0009" in json.dumps(doc["checks"])


def test_removed_or_retired_udr_needs_retirement_record(repo):
    (repo / "rules/udr-0002.yaml").unlink()
    doc = checks(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "UDR-0002", "retirement") == "fail"
    assert {c["id"]: c["change"] for c in doc["changes"]} == {"UDR-0002": "removed"}
    git(repo, "checkout", "--", "rules/udr-0002.yaml")
    edit(repo / "rules/udr-0002.yaml", "status: active", "status: retired")
    assert outcome(checks(repo), "UDR-0002", "retirement") == "fail"
    git(repo, "checkout", "--", "rules/udr-0002.yaml")
    retired = cli(repo, "retire", "UDR-0002", "--reviewer", "rev", "--reason", "decayed",
                  "--override")
    assert retired.exit_code == 0, retired.output
    doc = checks(repo)
    assert outcome(doc, "UDR-0002", "retirement") == "pass"
    assert doc["exit"] == 0


def test_broken_ledger_fails(repo):
    path = repo / "ledger.jsonl"
    ledger.append(path, actor="rev", action="retire", subject="UDR-0009", details={"reason": "x"})
    git(repo, "add", "ledger.jsonl")
    git(repo, "commit", "-q", "-m", "ledger")
    path.write_text(path.read_text().replace('"reason":"x"', '"reason":"y"'))
    doc = checks(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "ledger", "verify") == "fail"


def test_validation_error_fails_and_warnings_follow_the_flag(repo):
    edit(repo / "rules/udr-0001.yaml", "hts_code: {startswith:", "hts_code: {starts_with:")
    doc = checks(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "UDR-0001", "validate") == "fail"
    git(repo, "checkout", "--", "rules/udr-0001.yaml")
    edit(repo / "rules/udr-0001.yaml", "status: active", "status: active\nport: P1")  # a warning
    assert outcome(checks(repo), "UDR-0001", "validate") == "warn"
    assert checks(repo)["exit"] == 0
    assert checks(repo, "--fail-on-warnings")["exit"] == 1


def test_outputs_markdown_junit_github(repo):
    edit(repo / "rules/udr-0002.yaml", "    - country_of_origin: CN\n",
         "    - country_of_origin: {in: [CN, VN]}\n")
    md, xml = repo / "out/comment.md", repo / "out/junit.xml"
    result = gate(repo, "--markdown", str(md), "--junit", str(xml), "--format", "github")
    assert result.exit_code == 1
    assert "::error file=rules/udr-0002.yaml,line=" in result.output
    comment = md.read_text()
    lines = comment.splitlines()
    # The verdict first, under a hidden marker CI uses to update one sticky comment.
    assert lines[0] == "<!-- targeting-gate -->"
    assert lines[1].startswith("## ❌ targeting gate: FAIL: 1 failure")
    assert lines[3] == ("- UDR-0002 fails regression \\(workload grew \\+83% \\(1.1 → 2.0 flags/day; "
                        "tolerance \\+25%\\)\\)")
    assert "| metric | before | after |" in comment
    # What the broadened UDR newly targets (the VN lamps), and how many were ever examined.
    manifest = pl.read_parquet(repo / "data/manifest.parquet")
    exams = pl.read_parquet(repo / "data/exams.parquet")
    new = manifest.filter(pl.col("hts_code").str.starts_with("8512")
                          & (pl.col("country_of_origin") == "VN"))
    examined = exams.filter(pl.col("shipment_id").is_in(new["shipment_id"].implode()))
    bad = examined.filter(pl.col("result") == "discrepant")
    assert new.height > 0 and examined.height > 0
    assert (f"It newly targets {new.height:,} shipments, {examined.height:,} of them ever examined "
            f"\\({bad.height:,} discrepant\\); no longer targets 0 shipments \\(0 examined, 0 "
            "discrepant\\).") in comment
    suite = ET.parse(xml).getroot().find("testsuite")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert {("UDR-0002", "validate"), ("UDR-0002", "effectiveness"), ("UDR-0002", "workload"),
            ("UDR-0002", "regression"), ("ledger", "verify")} <= set(cases)
    assert cases[("UDR-0002", "regression")].find("failure") is not None
    assert cases[("UDR-0002", "workload")].find("failure") is None
    assert suite.get("failures") == "1"


def test_cache_hits_and_survives_corruption(repo):
    edit(repo / "rules/udr-0002.yaml", "title: Lamps from CN", "title: Lamps")
    first = checks(repo)
    assert first["cache"]["misses"] > 0
    second = checks(repo)
    assert second["cache"] == {"hits": first["cache"]["hits"] + first["cache"]["misses"], "misses": 0}
    assert second["changes"] == first["changes"]
    for entry in (repo / CACHE_DIR).rglob("*.json"):
        entry.write_text("{not json")
    third = checks(repo)
    assert third["changes"] == first["changes"] and third["exit"] == 0
    assert checks(repo, "--no-cache")["cache"] == {"hits": 0, "misses": 0}


def test_usage_and_config_errors_exit_2(repo):
    result = gate(repo, "--base", "no-such-branch")
    assert result.exit_code == 2 and "no-such-branch" in result.output
    with open(repo / "targeting.yaml", "a") as handle:
        handle.write("gate:\n  max_lower_bound_drops: 0.1\n")
    result = gate(repo)
    assert result.exit_code == 2 and "did you mean 'max_lower_bound_drop'" in result.output


def test_settings_defaults_and_errors():
    settings = load_settings({})
    assert (settings.max_lower_bound_drop, settings.max_workload_growth,
            settings.fail_on_warnings) == (0.02, 0.25, False)
    with pytest.raises(ConfigError, match="fail_on_warnings must be true or false"):
        load_settings({"fail_on_warnings": "yes"})
    with pytest.raises(ConfigError, match="non-negative number"):
        load_settings({"max_workload_growth": -1})
