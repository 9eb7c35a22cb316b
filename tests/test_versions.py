"""Versioned evidence (docs/policy.md, "Versioned evidence"), hand-worked on tiny git histories
whose commit dates are set by hand: a query's evidence starts the day after its current
predicate (its `where` and the lists it names) first reached the first-parent chain, and never
before the day after `created`; the dates along the chain are made monotone, so neither a
backdated commit nor a backdated branch can move the start earlier. The ledger source dates
predicates by `targeting register`."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from gate_project import GIT_ENV, cli, commit_base, make_policy_project, outcome

from targeting.backtest.window import Window
from targeting.cli import main
from targeting.data.config import load_config
from targeting.decide import ledger
from targeting.decide.policy import EvidenceStart, evidence_start
from targeting.decide.registration import register
from targeting.decide.versions import Versions, current_hash, git_history
from targeting.rules.loader import load_rules

WINDOW = Window(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
QUERY = """\
id: Q-0001-0001
kind: query
title: Lamps
status: active
created: {created}
where:
  all:
    - hts_code: {{startswith: "8512"}}
    - importer_id: {{in_list: watched}}
"""


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def project(root: Path, source: str = "git", created: str = "2025-01-10") -> Path:
    """A project with one query naming one list (no data: evidence dates need none)."""
    for folder in ("rules", "queries", "lists"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "targeting.yaml").write_text(
        "data:\n  manifest: manifest.csv\n  exams: exams.csv\nrules: [rules]\nqueries: [queries]\n"
        f"lists: lists\npromotion:\n  evidence_source: {source}\n", encoding="utf-8")
    write_query(root, created=created)
    (root / "lists" / "watched.txt").write_text("IMP1\n", encoding="utf-8")
    return root


def write_query(root: Path, created: str = "2025-01-10", prefix: str = "8512",
                title: str = "Lamps") -> None:
    text = QUERY.format(created=created).replace("8512", prefix).replace("Lamps", title)
    (root / "queries" / "q-0001-0001.yaml").write_text(text, encoding="utf-8")


def git(root: Path, *args: str, on: str | None = None) -> None:
    """git in `root`; `on` sets the author and committer date (noon UTC)."""
    env = {**os.environ, **GIT_ENV}
    if on is not None:
        env |= {"GIT_AUTHOR_DATE": f"{on}T12:00:00+00:00", "GIT_COMMITTER_DATE": f"{on}T12:00:00+00:00"}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def commit(root: Path, on: str, message: str = "change") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message, on=on)


def start(root: Path) -> EvidenceStart:
    """The query's evidence start over WINDOW, as decide() computes it."""
    config = load_config(root / "targeting.yaml")
    rule = load_rules([root / "queries"])[0]
    return evidence_start(rule, WINDOW, config.promotion, Versions(config))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The project with its first commit on main on 2025-01-01 (the README only)."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "README.md").write_text("rules\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    commit(root, "2025-01-01", "start")
    project(root)
    return root


def test_evidence_starts_the_day_after_the_predicate_was_first_committed(repo):
    """Committed on 2025-03-01 (created says 2025-01-10): evidence from 2025-03-02, by git."""
    assert start(repo) == EvidenceStart(WINDOW.until + dt.timedelta(days=1), "unregistered")
    commit(repo, "2025-03-01")
    assert start(repo) == EvidenceStart(day("2025-03-02"), "git")


def test_created_later_than_the_commit_wins(repo):
    write_query(repo, created="2025-04-01")
    commit(repo, "2025-03-01")
    assert start(repo) == EvidenceStart(day("2025-04-02"), "git")


def test_editing_where_restarts_and_editing_title_or_created_does_not(repo):
    commit(repo, "2025-03-01")
    write_query(repo, created="2024-06-01", title="Lamps and lights")
    commit(repo, "2025-04-01", "title and created only")
    assert start(repo).day == day("2025-03-02")
    write_query(repo, created="2024-06-01", prefix="8513")
    assert start(repo).source == "unregistered"  # the edit is not committed yet
    commit(repo, "2025-05-01", "where")
    assert start(repo).day == day("2025-05-02")


def test_changing_the_predicate_back_does_not_resurrect_its_old_start(repo):
    commit(repo, "2025-03-01")
    write_query(repo, prefix="8513")
    commit(repo, "2025-04-01")
    write_query(repo)
    commit(repo, "2025-05-01")
    assert start(repo).day == day("2025-05-02")


def test_editing_a_named_list_restarts(repo):
    commit(repo, "2025-03-01")
    (repo / "lists" / "other.txt").write_text("IMP9\n", encoding="utf-8")
    commit(repo, "2025-04-01", "a list the query does not name")
    assert start(repo).day == day("2025-03-02")
    (repo / "lists" / "watched.txt").write_text("IMP1\nIMP2\n", encoding="utf-8")
    assert start(repo).source == "unregistered"
    commit(repo, "2025-05-01", "the named list")
    assert start(repo).day == day("2025-05-02")


def test_a_backdated_branch_merged_without_fast_forward_counts_from_the_merge(repo):
    """The query is committed on a branch dated 2025-02-01; main moves on (2025-04-01); the
    branch is merged with --no-ff on 2025-06-01: evidence from 2025-06-02."""
    git(repo, "checkout", "-q", "-b", "snoop")
    commit(repo, "2025-02-01", "backdated query")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("later\n", encoding="utf-8")
    commit(repo, "2025-04-01", "later main commit")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "snoop", on="2025-06-01")
    assert start(repo) == EvidenceStart(day("2025-06-02"), "git")


def test_a_backdated_commit_fast_forwarded_after_a_later_commit_gets_the_later_date(repo):
    """Dates are monotone along the chain: a commit dated 2025-02-01 on top of one dated
    2025-04-01 counts from 2025-04-01, whatever its own date says."""
    (repo / "queries" / "q-0001-0001.yaml").rename(repo / "q.yaml")
    commit(repo, "2025-04-01", "later main commit")
    (repo / "q.yaml").rename(repo / "queries" / "q-0001-0001.yaml")
    commit(repo, "2025-02-01", "backdated query")
    assert start(repo) == EvidenceStart(day("2025-04-02"), "git")


def test_a_rule_moved_to_another_file_keeps_its_start(repo):
    commit(repo, "2025-03-01")
    (repo / "queries" / "q-0001-0001.yaml").rename(repo / "queries" / "lamps.yaml")
    commit(repo, "2025-04-01", "renamed")
    assert start(repo).day == day("2025-03-02")


def test_created_source_and_prospective_false_ignore_history(repo):
    commit(repo, "2025-03-01")
    config = repo / "targeting.yaml"
    config.write_text(config.read_text().replace("evidence_source: git", "evidence_source: created"))
    assert start(repo) == EvidenceStart(day("2025-01-11"), "created")
    config.write_text(config.read_text() + "  prospective: false\n")
    assert start(repo) == EvidenceStart(WINDOW.since, "window")


def test_auto_picks_git_in_a_repository_with_rules_and_created_elsewhere(repo, tmp_path):
    commit(repo, "2025-03-01")
    config = repo / "targeting.yaml"
    config.write_text(config.read_text().replace("evidence_source: git", "evidence_source: auto"))
    assert start(repo) == EvidenceStart(day("2025-03-02"), "git")
    assert Versions(load_config(config)).describe().startswith("git (auto): first-parent history")
    plain = project(tmp_path / "plain", "auto")
    assert start(plain) == EvidenceStart(day("2025-01-11"), "created")
    git_only = project(tmp_path / "nogit", "git")
    assert start(git_only).source == "unregistered"


def test_history_is_read_once_per_commit(repo):
    commit(repo, "2025-03-01")
    git_history.cache_clear()
    start(repo)
    start(repo)
    assert git_history.cache_info().misses == 1 and git_history.cache_info().hits == 1


# ---------------------------------------------------------------------------- ledger source

def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{text}T09:00:00+00:00")


def test_ledger_source_register_edit_register_restarts(tmp_path):
    root = project(tmp_path / "p", "ledger")
    config = load_config(root / "targeting.yaml")
    assert start(root).source == "unregistered"
    first = register(config, "ana", now=at("2025-03-01"))
    assert [(e.action, e.subject) for e in first.entries] == [("register", "Q-0001-0001")]
    assert start(root) == EvidenceStart(day("2025-03-02"), "ledger")
    assert register(config, "ana", now=at("2025-04-01")).entries == []  # idempotent
    write_query(root, prefix="8513")
    assert start(root).source == "unregistered"
    register(config, "ana", now=at("2025-05-01"))
    assert start(root) == EvidenceStart(day("2025-05-02"), "ledger")
    assert ledger.verify(root / "ledger.jsonl").ok


def test_auto_uses_the_ledger_when_it_holds_registrations(tmp_path):
    root = project(tmp_path / "p", "auto")
    assert start(root).source == "created"
    register(load_config(root / "targeting.yaml"), "ana", now=at("2025-03-01"))
    assert start(root) == EvidenceStart(day("2025-03-02"), "ledger")


def test_register_command_prints_what_it_recorded_and_is_idempotent(tmp_path):
    root = project(tmp_path / "p", "ledger")
    args = ["register", "--reviewer", "ana", "--config", str(root / "targeting.yaml")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("registered Q-0001-0001 (queries/q-0001-0001.yaml): predicate ")
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0
    assert again.output == ("nothing to register: the ledger holds every active rule's current "
                            "predicate\n")
    verify = CliRunner().invoke(main, ["ledger", "verify", "--config", str(root / "targeting.yaml")])
    assert verify.exit_code == 0, verify.output


# ---------------------------------------------------------------------------- the gate

def test_the_gate_requires_registration_when_the_base_dates_by_the_ledger(tmp_path, monkeypatch):
    """With the base's evidence source `ledger`, a new query without a register entry fails;
    `targeting register` makes it pass, each entry standing for a predicate the base had not
    registered; a backdated registration fails."""
    root = make_policy_project(tmp_path / "p")
    config = root / "targeting.yaml"
    config.write_text(config.read_text().replace("evidence_source: created", "evidence_source: ledger"))
    commit_base(root)
    monkeypatch.chdir(root)
    query = (root / "queries" / "q-1.yaml").read_text().replace("id: Q-1", "id: Q-3")
    (root / "queries" / "q-3.yaml").write_text(query, encoding="utf-8")

    def gate() -> dict:
        result = cli(root, "gate", "--json", str(tmp_path / "gate.json"))
        return {**json.loads((tmp_path / "gate.json").read_text()), "exit": result.exit_code}

    doc = gate()
    assert outcome(doc, "Q-3", "registration") == "fail" and doc["exit"] == 1
    assert cli(root, "register", "--reviewer", "ana").exit_code == 0
    doc = gate()
    assert outcome(doc, "Q-3", "registration") == "pass"
    assert outcome(doc, "ledger", "entries") == "pass" and doc["exit"] == 0, doc["checks"]
    (root / "queries" / "q-3.yaml").write_text(query.replace("bag}", "ba}"), encoding="utf-8")
    held = current_hash(load_rules([root / "queries" / "q-3.yaml"])[0], load_config(config))
    ledger.append(root / "ledger.jsonl", actor="mallory", action="register", subject="Q-3",
                  details={"hash": held, "file": "queries/q-3.yaml"},
                  now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    doc = gate()
    assert outcome(doc, "ledger", "entries") == "fail"
    assert "before the base commit" in next(c["message"] for c in doc["checks"]
                                            if c["name"] == "entries")


def test_a_project_in_a_subfolder_of_the_repository(tmp_path):
    root = tmp_path / "repo"
    project(root / "customs" / "targeting")
    git(root, "init", "-q", "-b", "main")
    commit(root, "2025-03-01")
    assert start(root / "customs" / "targeting") == EvidenceStart(day("2025-03-02"), "git")
