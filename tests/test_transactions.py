"""Writing commands under the project lock: concurrent promotions and retirements each get their
own UDR and ledger entry or leave no trace, and a promotion killed (SIGKILL) at any write step
is completed or undone by the next command.

Every command runs in a fresh interpreter (`python -m targeting`): forking a process that has
started DuckDB's or Polars' threads can crash the child.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from gate_project import make_policy_project

from targeting.decide import ledger

QUERIES = 10
UDRS = 5
SKIP = {".targeting-cache"}


def targeting(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One command in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "targeting", *args,
                           "--config", str(root / "targeting.yaml")],
                          cwd=root, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "TARGETING_FAULT": "", **(env or {})})


def in_parallel(root: Path, commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: targeting(root, *args), commands))


def tree(root: Path) -> dict[str, str]:
    """sha256 of every file but the cache and the lock file (which holds nothing)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()
            and not SKIP & set(p.relative_to(root).parts) and p.name != "ledger.jsonl.lock"}


def leftovers(root: Path) -> list[str]:
    """Temporary and intent files a writer left behind."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not SKIP & set(p.relative_to(root).parts)
                  and (".targeting-tmp" in p.name or p.name.endswith(".intent")
                       or (p.name.startswith(".") and p.suffix in (".yaml", ".yml", ".jsonl"))))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The policy project with ten copies of Q-1 (each meets the lenient policy) and five more
    UDRs; its data store is built once here."""
    root = make_policy_project(tmp_path_factory.mktemp("transactions") / "repo")
    query = (root / "queries" / "q-1.yaml").read_text(encoding="utf-8")
    for n in range(3, QUERIES + 1):
        (root / "queries" / f"q-{n}.yaml").write_text(query.replace("id: Q-1", f"id: Q-{n}"))
    udr = (root / "rules" / "u-1.yaml").read_text(encoding="utf-8")
    for n in range(1, UDRS + 1):
        (root / "rules" / f"udr-{n:04d}.yaml").write_text(udr.replace("id: U-1", f"id: UDR-{n:04d}"))
    built = targeting(root, "evaluate", "--format", "json")
    assert built.returncode == 0, built.stderr
    return root


@pytest.fixture
def project(template, tmp_path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    return root


def consistent(root: Path) -> list[ledger.Entry]:
    """The ledger verifies (chain and agreement with the rule files) and nothing is left over."""
    check = targeting(root, "ledger", "verify")
    assert check.returncode == 0, check.stderr
    assert leftovers(root) == []
    return ledger.read(root / "ledger.jsonl")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ concurrency

def test_ten_concurrent_promotions_get_ten_udrs(project):
    """Four of ten used to succeed, all as UDR-0011 (ids were allocated before any lock)."""
    results = in_parallel(project, [["promote", f"Q-{n}", "--reviewer", f"r{n}", "--override",
                                     "--reason", "x"] for n in range(1, QUERIES + 1)])
    assert [r.returncode for r in results] == [0] * QUERIES, [r.stderr for r in results]
    entries = consistent(project)
    promoted = [e for e in entries if e.action == "promote"]
    assert len(promoted) == QUERIES and len(entries) == 2 * QUERIES  # override + promote each
    ids = sorted(e.details["udr"] for e in promoted)
    assert ids == [f"UDR-{n:04d}" for n in range(UDRS + 1, UDRS + QUERIES + 1)]
    for entry in promoted:
        udr = load(project / "rules" / f"{entry.details['udr'].lower()}.yaml")
        assert (udr["id"], udr["promoted_from"]) == (entry.details["udr"], entry.subject)
        query = next(p for p in (project / "queries").glob("*.yaml") if load(p)["id"] == entry.subject)
        assert load(query)["status"] == "promoted"


def test_ten_concurrent_promotions_of_one_query_make_one_udr(project):
    before = tree(project)
    results = in_parallel(project, [["promote", "Q-1", "--reviewer", f"r{n}", "--override",
                                     "--reason", "x"] for n in range(10)])
    winners = [r for r in results if r.returncode == 0]
    assert len(winners) == 1
    assert all("has status promoted" in r.stderr for r in results if r.returncode != 0)
    entries = consistent(project)
    assert [e.action for e in entries] == ["override", "promote"]
    changed = {k for k in set(tree(project)) | set(before) if tree(project).get(k) != before.get(k)}
    assert changed == {"ledger.jsonl", "queries/q-1.yaml", f"rules/{entries[1].details['udr'].lower()}.yaml"}


def test_concurrent_promotions_with_new_ids(project):
    """Pairs of processes ask for the same --new-id: one of each pair gets it."""
    commands = [["promote", f"Q-{n}", "--reviewer", "r", "--new-id", f"UDR-{100 + (n - 1) // 2}",
                 "--override", "--reason", "x"] for n in range(1, QUERIES + 1)]
    results = in_parallel(project, commands)
    ok = [c for c, r in zip(commands, results) if r.returncode == 0]
    assert len(ok) == len({c[5] for c in commands})
    assert all("already used" in r.stderr for r in results if r.returncode != 0)
    entries = consistent(project)
    assert len(entries) == 2 * len(ok)  # a failure left no entry
    assert sorted(e.details["udr"] for e in entries if e.action == "promote") == sorted(c[5] for c in ok)
    for command in ok:
        assert load(project / "rules" / f"{command[5].lower()}.yaml")["promoted_from"] == command[1]


def test_ten_concurrent_retirements(project):
    """Two processes per UDR: each UDR is retired once, by one of them."""
    results = in_parallel(project, [["retire", f"UDR-{1 + n // 2:04d}", "--reviewer", f"r{n}",
                                     "--reason", "tidy", "--override"] for n in range(2 * UDRS)])
    assert sorted(r.returncode for r in results) == [0] * UDRS + [1] * UDRS, [r.stderr for r in results]
    assert all("has status retired" in r.stderr for r in results if r.returncode != 0)
    entries = consistent(project)
    assert len(entries) == 2 * UDRS  # an override and a retirement each; a failure left none
    retired = [e.subject for e in entries if e.action == "retire"]
    assert sorted(retired) == [f"UDR-{n:04d}" for n in range(1, UDRS + 1)]
    for subject in retired:
        doc = load(project / "rules" / f"{subject.lower()}.yaml")
        assert doc["status"] == "retired" and doc["retired_by"].startswith("r")


# ------------------------------------------------------------------------------ kills

STEPS = {  # where promote is killed -> what the next command makes of it
    "lock": None, "intent": "rolled back", "temp-1": "rolled back", "rename-1": "rolled back",
    "temp-2": "rolled back", "rename-2": "rolled back", "ledger-half": "completed",
    "ledger": "completed",
}


@pytest.mark.parametrize("step", list(STEPS))
def test_promote_killed_at_each_write_step_is_recovered(project, step):
    before = tree(project)
    args = ["promote", "Q-1", "--reviewer", "ana", "--new-id", "UDR-0100"]
    killed = targeting(project, *args, env={"TARGETING_FAULT": step})
    assert killed.returncode == -9, killed.stderr
    recovered = targeting(project, "ledger", "recover")
    assert recovered.returncode == 0, recovered.stderr
    outcome = STEPS[step]
    if outcome is None:
        assert "nothing to recover" in recovered.stderr
    else:
        assert f"an interrupted `promote` of Q-1 was {outcome}" in recovered.stderr
    entries = consistent(project)
    if outcome == "completed":
        assert [e.action for e in entries] == ["promote"]
        assert load(project / "rules" / "udr-0100.yaml")["promoted_from"] == "Q-1"
        assert load(project / "queries" / "q-1.yaml")["status"] == "promoted"
        again = targeting(project, *args)
        assert again.returncode == 1 and "has status promoted" in again.stderr
    else:
        assert tree(project) == before and entries == []
        again = targeting(project, *args)  # the promotion can simply be made again
        assert again.returncode == 0, again.stderr
        assert [e.action for e in consistent(project)] == ["promote"]


def test_the_next_writing_command_recovers_by_itself(project):
    """No `ledger recover` needed: promote finds the intent and completes it first."""
    killed = targeting(project, "promote", "Q-1", "--reviewer", "ana", "--new-id", "UDR-0100",
                       env={"TARGETING_FAULT": "ledger-half"})
    assert killed.returncode == -9
    broken = targeting(project, "ledger", "verify")
    assert broken.returncode == 1 and "incomplete" in broken.stderr
    result = targeting(project, "promote", "Q-3", "--reviewer", "ana", "--override", "--reason",
                       "same bags, nationally")
    assert result.returncode == 0, result.stderr
    assert "recovered: an interrupted `promote` of Q-1 was completed" in result.stderr
    entries = consistent(project)
    assert [(e.action, e.subject, e.details.get("udr")) for e in entries] == [
        ("promote", "Q-1", "UDR-0100"), ("override", "Q-3", None), ("promote", "Q-3", "UDR-0101")]
