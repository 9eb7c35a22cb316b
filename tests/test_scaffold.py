"""`targeting new query|udr` writes a rule file that validates as written and runs at once."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from targeting.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config(tmp_path) -> Path:
    for name in ("rules", "queries"):
        shutil.copytree(REPO / name, tmp_path / name)
    data = REPO / "fixtures" / "default"
    path = tmp_path / "targeting.yaml"
    path.write_text(f"data:\n  manifest: {data / 'manifest.parquet'}\n  exams: {data / 'exams.parquet'}\n"
                    f"lists: {data / 'lists'}\nrules: [{tmp_path / 'rules'}]\n"
                    f"queries: [{tmp_path / 'queries'}]\n", encoding="utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_new_query_validates_and_tests_at_once(config):
    result = run("new", "query", "--port", "4701", "--owner", "cbpo: 4701 # night shift",
                 "--config", str(config))
    assert result.exit_code == 0, result.output
    path = config.parent / "queries" / "q-4701-0022.yaml"  # after Q-4701-0021
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert (doc["id"], doc["kind"], doc["port"], doc["status"]) == ("Q-4701-0022", "query", "4701", "draft")
    assert doc["owner"] == "cbpo: 4701 # night shift"  # quoted: it cannot change the file's shape
    assert len(doc["tests"]["match"]) == 1 and len(doc["tests"]["no_match"]) == 1
    checked = run("validate", "--config", str(config), str(path))
    assert checked.exit_code == 0 and "1 rule valid, 0 errors, 0 warnings" in checked.output
    tested = run("test", "Q-4701-0022", "--config", str(config), "--format", "json")
    assert tested.exit_code == 0, tested.output


def test_new_udr_is_national_and_refuses_to_overwrite(config):
    assert run("new", "udr", "--config", str(config)).exit_code == 0
    path = config.parent / "rules" / "udr-0010.yaml"
    doc = yaml.safe_load(path.read_text())
    assert doc["id"] == "UDR-0010" and doc["kind"] == "udr" and "port" not in doc
    assert run("validate", "--config", str(config), str(path)).exit_code == 0
    again = run("new", "udr", "--id", "UDR-0010", "--config", str(config))
    assert again.exit_code == 2 and "'UDR-0010' is taken" in again.output
    assert run("new", "udr", "--port", "4701", "--config", str(config)).exit_code == 2
    assert run("new", "query", "--config", str(config)).exit_code == 2  # a query needs its port
