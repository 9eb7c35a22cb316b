"""`targeting validate`, `compile` and `schema` on a tiny project made in a temporary folder."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from targeting.cli import main

GOOD = """\
id: Q-4701-0001
kind: query
title: Handbags from CN
port: "4701"
priorities: [repeat_violators]
where:
  country_of_origin: CN
  description: {contains: handbag}
  not: {importer_id: {in_list: trusted}}
tests:
  match:
    - {country_of_origin: cn, description: LADIES HANDBAG}
  no_match:
    - {country_of_origin: CN, description: handbag, importer_id: " IMP1 "}
"""
BAD = """\
id: UDR-0001
kind: udr
title: Broken
where:
  contry_of_origin: CN
  declared_value: {containz: 5}
"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "targeting.yaml").write_text(
        "data:\n  manifest: manifest.csv\n  exams: exams.csv\n"
        "rules: [rules]\nqueries: [queries]\npriorities: [repeat_violators]\n")
    (tmp_path / "manifest.csv").write_text(
        "shipment_id,arrival_date,port_code,country_of_origin,description,importer_id,declared_value\n"
        "S1,2021-01-04,4701,CN,Ladies handbag,IMP1,120\n"
        "S2,2021-01-05,4701,DE,Watch,IMP2,80\n")
    (tmp_path / "exams.csv").write_text("shipment_id,result\nS1,discrepant\n")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "trusted.txt").write_text("IMP1\n")
    for folder in ("rules", "queries"):
        (tmp_path / folder).mkdir()
    (tmp_path / "queries" / "q-4701-0001.yaml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_clean_rules_exit_0(project):
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert "1 rule valid, 0 errors, 0 warnings" in result.output


def test_rule_errors_exit_1_and_are_all_reported(project):
    (project / "rules" / "udr-0001.yaml").write_text(BAD)
    result = run("validate")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "error[" in line]
    assert lines == [
        "rules/udr-0001.yaml:6:20: error[unknown-operator]: 'containz' is not an operator; "
        "expected one of eq, ne, in, not_in, lt, le, gt, ge, between, contains, contains_any, "
        "contains_all, startswith, startswith_any, endswith, matches, is_null, in_list, "
        "contains_list, startswith_list (did you mean 'contains'?)",
    ]
    (project / "rules" / "udr-0001.yaml").write_text(BAD.replace("containz", "gt"))
    result = run("validate")
    assert result.exit_code == 1
    assert ("rules/udr-0001.yaml:5:3: error[unknown-field]: 'contry_of_origin' is not a field of "
            "the data; did you mean 'country_of_origin'?") in result.output


def test_github_format(project):
    (project / "rules" / "udr-0001.yaml").write_text(BAD.replace("containz", "gt"))
    result = run("validate", "--format", "github", "rules")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "::error file=rules/udr-0001.yaml,line=5,col=3::[unknown-field] 'contry_of_origin' is "
        "not a field of the data; did you mean 'country_of_origin'?")


def test_json_format(project):
    result = run("validate", "--format", "json", "queries/q-4701-0001.yaml")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"valid_rules": 1, "problems": []}


def test_usage_and_config_errors_exit_2(project, tmp_path_factory):
    assert run("validate", "no/such/path.yaml").exit_code == 2
    assert run("validate", "--format", "xml").exit_code == 2
    elsewhere = tmp_path_factory.mktemp("empty")
    result = run("validate", "--config", str(elsewhere / "targeting.yaml"))
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_compile_by_id_and_path(project):
    english = run("compile", "Q-4701-0001", "--to", "english")
    assert english.exit_code == 0, english.output
    assert english.output == ("country of origin is CN, and description contains handbag, "
                              "and not (importer id is in the list trusted)\n")
    sql = run("compile", "queries/q-4701-0001.yaml", "--to", "sql")
    assert sql.exit_code == 0, sql.output
    assert sql.output.splitlines()[-3:] == ["--   $1 = 'cn'", "--   $2 = 'handbag'",
                                            "--   $3 = 'trusted'"]
    polars = run("compile", "Q-4701-0001", "--to", "polars")
    assert polars.exit_code == 0 and "country_of_origin" in polars.output
    assert run("compile", "Q-9999").exit_code == 2


def test_schema_command_prints_the_packaged_schema():
    result = run("schema")
    assert result.exit_code == 0
    assert json.loads(result.output)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_commands_have_help():
    for name in ("validate", "compile", "schema"):
        result = run(name, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output
