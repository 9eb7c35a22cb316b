"""A rule on the outcome label of labelled-manifest data is flagged."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from targeting.cli import main
from targeting.project import open_project

KCS = Path(__file__).resolve().parents[1] / "fixtures" / "kcs" / "targeting.yaml"
RULE = """id: Q-40-9999
kind: query
title: Fraud flag
port: "40"
where:
  port_code: "40"
  fraud: 1
tests:
  match: [{port_code: "40", fraud: 1}]
  no_match: [{port_code: "40", fraud: 0}]
"""


def test_rule_on_the_label_column_warns(tmp_path):
    rule = tmp_path / "q.yaml"
    rule.write_text(RULE, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--config", str(KCS), str(rule)])
    assert result.exit_code == 0, result.output
    assert "q.yaml:7:3: warning[outcome-field]: 'fraud' is the outcome label of this data" in result.output
    _, problems = open_project(KCS).check([rule])
    assert [p.code for p in problems] == ["outcome-field"]


def test_bundled_kcs_queries_do_not_use_the_label():
    project = open_project(KCS)
    _, problems = project.check()
    assert not [p for p in problems if p.code == "outcome-field"]
