"""Acceptance of versioned evidence on the `snooped` scenario: Q-4701-0299 is written two thirds
into the history from the exams found discrepant so far, and its `created` is backdated to the
first day. Dated by `created` it is promoted; dated by git it is not, whether its commit is
honest, backdated and fast-forwarded after a later commit, or backdated on a branch merged
later; and editing its `where:` restarts its evidence."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_versions import commit, git

from targeting.cli import main
from targeting.generate.project import generate_project
from targeting.generate.scenarios.snooped import HINDSIGHT, LIST

HINDSIGHT_FILES = (f"queries/{HINDSIGHT.lower()}.yaml", f"lists/{LIST}.txt")


@pytest.fixture(scope="module")
def snooped(tmp_path_factory) -> tuple[Path, dict]:
    """The scenario at the size the scenario tests use (60,000 shipments over 12 months)."""
    out = tmp_path_factory.mktemp("snooped") / "project"
    generate_project("snooped", out, shipments=60_000, months=12, seed=1)
    facts = json.loads((out / "scenario.json").read_text(encoding="utf-8"))
    return out, facts


def copy(snooped, tmp_path: Path, source: str) -> Path:
    root = tmp_path / "project"
    shutil.copytree(snooped[0], root)
    (root / ".gitignore").write_text(".targeting-cache/\nledger.jsonl.lock\n", encoding="utf-8")
    config = root / "targeting.yaml"
    config.write_text(config.read_text() + f"promotion:\n  evidence_source: {source}\n")
    return root


def base_repo(snooped, tmp_path: Path) -> tuple[Path, str]:
    """Everything but the hindsight query and its list, committed before the history starts;
    and the day the list was built."""
    root = copy(snooped, tmp_path, "git")
    hidden = {name: (root / name).read_bytes() for name in HINDSIGHT_FILES}
    for name in HINDSIGHT_FILES:
        (root / name).unlink()
    git(root, "init", "-q", "-b", "main")
    commit(root, "2024-09-01", "the project")
    for name, data in hidden.items():
        (root / name).write_bytes(data)
    return root, snooped[1]["facts"]["list_built"]


def hindsight(root: Path) -> dict:
    result = CliRunner().invoke(main, ["candidates", "--format", "json", "--config",
                                       str(root / "targeting.yaml")])
    assert result.exit_code == 0, result.output
    return next(c for c in json.loads(result.output)["candidates"] if c["id"] == HINDSIGHT)


def after(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def test_dated_by_created_the_hindsight_query_is_promoted(snooped, tmp_path):
    """The control: the backdated `created` makes it look excellent."""
    found = hindsight(copy(snooped, tmp_path, "created"))
    assert found["promote"] and found["evidence_source"] == "created"
    assert found["evidence_start"] == after(snooped[1]["facts"]["claimed_created"])


def test_dated_by_git_it_is_not_promoted_and_an_edit_restarts_it(snooped, tmp_path):
    root, built = base_repo(snooped, tmp_path)
    commit(root, built, "the hindsight query, committed when it was written")
    found = hindsight(root)
    assert (found["promote"], found["evidence_source"], found["evidence_start"]) == \
        (False, "git", after(built))
    query = root / HINDSIGHT_FILES[0]
    query.write_text(query.read_text().replace(
        "  importer_id: {in_list: prior_discrepancies}",
        "  all:\n  - importer_id: {in_list: prior_discrepancies}\n  - importer_id: {is_null: false}"))
    assert hindsight(root)["evidence_source"] == "unregistered"
    commit(root, "2025-08-01", "where edited")
    found = hindsight(root)
    assert (found["promote"], found["evidence_start"]) == (False, "2025-08-02")


def test_a_backdated_commit_after_a_later_one_is_not_promoted(snooped, tmp_path):
    """Committed with the claimed date, on top of a commit made when the list was built."""
    root, built = base_repo(snooped, tmp_path)
    hidden = {name: (root / name).read_bytes() for name in HINDSIGHT_FILES}
    for name in HINDSIGHT_FILES:
        (root / name).unlink()
    (root / "NOTES.md").write_text("list built\n", encoding="utf-8")
    commit(root, built, "a commit on the day the list was built")
    for name, data in hidden.items():
        (root / name).write_bytes(data)
    commit(root, snooped[1]["facts"]["claimed_created"], "backdated")
    found = hindsight(root)
    assert (found["promote"], found["evidence_start"]) == (False, after(built))


def test_a_backdated_branch_merged_later_is_not_promoted(snooped, tmp_path):
    root, built = base_repo(snooped, tmp_path)
    git(root, "checkout", "-q", "-b", "hindsight")
    commit(root, snooped[1]["facts"]["claimed_created"], "backdated on a branch")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "-m", "merged", "hindsight", on=built)
    found = hindsight(root)
    assert (found["promote"], found["evidence_start"]) == (False, after(built))
