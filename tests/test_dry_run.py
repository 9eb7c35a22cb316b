"""`promote --dry-run` and `retire --dry-run` print the files and the ledger entry they would
write, and leave every file exactly as it was."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from gate_project import bundled_repo, cli

REPO = Path(__file__).resolve().parents[1]


def tree(root: Path) -> dict[str, str]:
    """sha256 of every file but git's and the cache's (which a dry run may fill: it is not the
    project's, and deleting it changes nothing)."""
    skip = {".git", ".targeting-cache"}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not skip & set(p.relative_to(root).parts)}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return bundled_repo(tmp_path_factory.mktemp("dry") / "repo")


def test_promote_dry_run_prints_what_it_would_write_and_writes_nothing(project, monkeypatch):
    monkeypatch.chdir(project)
    before = tree(project)
    result = cli(project, "promote", "Q-4701-0012", "--reviewer", "alice", "--dry-run")
    assert result.exit_code == 0, result.output
    assert tree(project) == before and not (project / "ledger.jsonl").exists()
    out = result.stdout
    assert "--- would write rules/udr-0010.yaml (new file):\n# Promoted from Q-4701-0012" in out
    assert "--- would change queries/q-4701-0012.yaml:" in out
    assert "-status: active\n+status: promoted" in out
    record = json.loads(out.split("signature added when written):\n")[1].splitlines()[0])
    assert (record["action"], record["actor"], record["subject"]) == ("promote", "alice", "Q-4701-0012")
    assert record["details"]["udr"] == "UDR-0010" and record["details"]["file"] == "rules/udr-0010.yaml"
    assert out.rstrip().endswith("dry run: nothing was written")


def test_retire_dry_run_writes_nothing(project, monkeypatch):
    monkeypatch.chdir(project)
    before = tree(project)
    result = cli(project, "retire", "UDR-0002", "--reviewer", "bob", "--reason", "quiet",
                 "--dry-run")
    assert result.exit_code == 0, result.output
    assert tree(project) == before and not (project / "ledger.jsonl").exists()
    assert "--- would change rules/udr-0002.yaml:" in result.stdout
    assert "+status: retired" in result.stdout and '"action": "retire"' in result.stdout


def test_a_refused_dry_run_is_refused_like_the_real_one(project, monkeypatch):
    monkeypatch.chdir(project)
    before = tree(project)
    result = cli(project, "promote", "Q-1001-0005", "--reviewer", "alice", "--dry-run")
    assert result.exit_code == 1 and "does not meet the promotion policy" in result.output
    assert tree(project) == before
