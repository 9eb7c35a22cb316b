"""`targeting compile --to sql` prints SQL for people: one condition a line, text folded once,
the values listed; `--inline` writes the values in, and the query runs and finds exactly the
rows the bound query finds."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from targeting.cli import main
from targeting.compile.sql import compile_sql, target_lists_table
from targeting.db import connect
from targeting.project import open_project

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def project():
    return open_project(ROOT / "targeting.yaml")


def compiled(*args: str) -> str:
    result = CliRunner().invoke(main, ["compile", "--config", str(ROOT / "targeting.yaml"), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_sql_is_formatted_with_its_parameters_listed():
    sql = compiled("Q-4701-0012")
    lines = sql.splitlines()
    assert lines[0] == "-- Q-4701-0012: Low-value branded handbags from CN/HK by express"
    where = lines[lines.index("WHERE") + 1:lines.index("-- parameters, in order:")]
    assert where[0] == "  COALESCE(\"__folded_port_code\" = ?, FALSE)"
    assert where[1] == "  AND COALESCE(\"__folded_mode\" = ?, FALSE)"
    assert where[-3:] == ["  AND NOT (", "    COALESCE(\"__folded_importer_id\" IN (SELECT value "
                          "FROM target_lists WHERE list_name = ?), FALSE)", "  );"]
    listed = [line for line in lines if line.startswith("--   $")]
    assert listed[:2] == ["--   $1 = '4701'", "--   $2 = 'express'"]
    assert sum(line.count("?") for line in where) == len(listed) == 8
    assert max(len(line) for line in where) < 250  # no 2,500-character line


def test_inline_sql_has_no_placeholders():
    sql = compiled("Q-4701-0012", "--inline")
    assert "?" not in sql and "'express'" in sql and "DATE" not in sql
    assert "-- values written in as literals" in sql


def test_inline_is_for_sql_only():
    result = CliRunner().invoke(main, ["compile", "--config", str(ROOT / "targeting.yaml"),
                                       "Q-4701-0012", "--to", "english", "--inline"])
    assert result.exit_code == 2 and "--inline applies to --to sql only" in result.output


def test_inline_sql_runs_and_matches_the_bound_query(project):
    con = connect(":memory:")
    con.execute("CREATE TABLE manifest AS SELECT * FROM read_parquet(?)",
                [str(ROOT / "fixtures/default/manifest.parquet")])
    target_lists_table(con, project.dataset.lists)
    catalogue = project.dataset.catalogue
    matched = 0
    for rule in project.all_rules:
        sql = compiled(rule.id, "--inline")
        inline = con.execute(f"SELECT count(*) FROM ({sql.rstrip().rstrip(';')})").fetchone()
        where, params = compile_sql(rule.where, catalogue)
        bound = con.execute(f"SELECT count(*) FROM manifest WHERE {where}", params).fetchone()
        assert inline == bound, rule.id
        matched += inline[0]
    assert matched > 10_000  # the rules match real rows, not nothing alike
    con.close()
