"""A rule base of national size: 300 active UDRs and 100 queries (built by the scale benchmark's
rule builder from the bundled ones) on the bundled history. Every command runs on it, which
catches an engine that leaves behind tables another command needs (from 60 rules the grouped
engine answers), and `test --format json` agrees with `evaluate` row for row."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from gate_project import GIT_ENV

from targeting.backtest.registry import SCOREBOARD_COLUMNS
from targeting.cli import main

ROOT = Path(__file__).resolve().parents[1]
IDS = ["BQ-00001", "BQ-00050", "BU-00007", "BU-00250"]


def _rule_builder():
    spec = importlib.util.spec_from_file_location("bench_rules", ROOT / "benchmarks" / "rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,
                   env={**GIT_ENV, "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project folder: bundled data, 300 UDRs and 100 queries, committed on main."""
    folder = tmp_path_factory.mktemp("national")
    builder = _rule_builder()
    templates = builder.bundled_rules()
    udrs = builder.build_rules(300, 1, [r for r in templates if r.kind == "udr"])
    queries = builder.build_rules(100, 2, [r for r in templates if r.kind == "query"])
    builder.write_rules(udrs + queries, folder)
    shutil.copytree(ROOT / "fixtures" / "default" / "lists", folder / "lists")
    config = yaml.safe_load((ROOT / "targeting.yaml").read_text(encoding="utf-8"))
    config["data"] = {k: str(ROOT / v) for k, v in config["data"].items()}
    config["lists"] = "lists"
    (folder / "targeting.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (folder / ".gitignore").write_text(".targeting-cache/\n")
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "add", ".")
    _git(folder, "commit", "-qm", "national rule base")
    return folder


def run(project: Path, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(project / "targeting.yaml")])
    assert result.exit_code == 0, f"targeting {' '.join(args)}: {result.output}"
    return result.stdout


def test_the_rule_base_has_the_size_it_claims(project):
    assert len(list((project / "rules").glob("*.yaml"))) == 300
    assert len(list((project / "queries").glob("*.yaml"))) == 100


@pytest.mark.parametrize("command", [
    ["validate"], ["evaluate"], ["evaluate", "--format", "json"], ["coverage"],
    ["candidates"], ["candidates", "--format", "html"], ["test", "BQ-00001"],
    ["test", "BU-00007"], ["test", "BQ-00002", "--export", "{tmp}/m.csv"],
    ["compile", "BU-00003"], ["data", "check"], ["ledger", "verify"],
])
def test_every_reading_command_exits_0(project, tmp_path, command):
    run(project, *[part.replace("{tmp}", str(tmp_path)) for part in command])


def test_test_json_agrees_with_evaluate_json_on_every_shared_metric(project):
    board = {row["id"]: row for row in json.loads(run(project, "evaluate", "--format", "json"))["rules"]}
    for rule_id in IDS:
        report = json.loads(run(project, "test", rule_id, "--format", "json"))
        shared = [name for name in SCOREBOARD_COLUMNS if name in report]
        assert shared == SCOREBOARD_COLUMNS
        for name in shared:
            want = board[rule_id][name]
            got = report[name]
            if isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-12), (rule_id, name)
            else:
                assert got == want, (rule_id, name)


def test_writing_commands_exit_0_and_the_gate_passes_a_harmless_edit(project):
    """Run last: promote, retire and the gate change the project."""
    udr = project / "rules" / "bu-00011.yaml"
    udr.write_text(udr.read_text(encoding="utf-8").replace("title: ", "title: (edited) ", 1),
                   encoding="utf-8")
    run(project, "gate", "--base", "main")
    run(project, "promote", "BQ-00003", "--reviewer", "ntc", "--override", "--reason", "scale")
    run(project, "retire", "BU-00012", "--reviewer", "ntc", "--override", "--reason", "scale test")
    run(project, "ledger", "verify")
