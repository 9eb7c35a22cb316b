"""`targeting promote` and `retire` end to end in throw-away git copies of a project: the result
passes validate, evaluate and the gate; the ledger verifies; a failed promotion changes no file."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from gate_project import bundled_repo, cli, commit_base, git, make_policy_project

from targeting.backtest.run import project_window
from targeting.cli import main
from targeting.decide import ledger
from targeting.decide.policy import load_policy
from targeting.decide.promotion import promote, set_status
from targeting.project import open_project

REPO = Path(__file__).resolve().parents[1]
def tree(root: Path) -> dict[str, str]:
    """sha256 of every file under root, except git's own, the ledger's lock file (ignored by git,
    documented in docs/ledger.md; it holds no data) and the data/backtest cache .targeting-cache/."""
    skip = {".git", ".targeting-cache"}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not skip & set(p.relative_to(root).parts) and p.name != "ledger.jsonl.lock"}


def commit_change(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "change")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------- the bundled project: a real promotion

@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Path:
    return bundled_repo(tmp_path_factory.mktemp("bundled") / "repo")


def test_round_trip_on_the_bundled_project(bundled, monkeypatch):
    monkeypatch.chdir(bundled)
    query_file = bundled / "queries" / "q-4701-0012.yaml"
    before = query_file.read_text(encoding="utf-8")
    result = cli(bundled, "promote", "Q-4701-0012", "--reviewer", "alice")
    assert result.exit_code == 0, result.output
    udr_file = bundled / "rules" / "udr-0010.yaml"
    assert udr_file.exists(), sorted(p.name for p in (bundled / "rules").iterdir())

    # The query keeps every byte but its status.
    after = query_file.read_text(encoding="utf-8")
    assert load(query_file)["status"] == "promoted"
    assert after == before.replace("status: active", "status: promoted", 1)

    udr = load(udr_file)
    project = open_project(bundled / "targeting.yaml")
    policy = load_policy(project.config.promotion)
    assert (udr["id"], udr["kind"], udr["status"]) == ("UDR-0010", "udr", "active")
    assert (udr["promoted_from"], udr["reviewer"]) == ("Q-4701-0012", "alice")
    evidence = udr["evidence"]
    assert evidence["policy_hash"] == policy.hash
    assert evidence["data_fingerprint"] == project.dataset.fingerprint
    assert evidence["window"]["since"] == "2024-11-05"  # the day after the query's created date
    assert all(c["passed"] for c in evidence["criteria"]) and len(evidence["criteria"]) == 6
    assert evidence["metrics"]["q_value"] <= policy.fdr and evidence["scope"] in ("national", "port")
    assert evidence["metrics"]["examined"] >= policy.min_examined
    assert evidence["metrics"]["discrepant"] >= policy.min_discrepant

    check = ledger.verify(bundled / "ledger.jsonl")
    assert check.ok and check.entries == 1, check
    (entry,) = ledger.read(bundled / "ledger.jsonl")
    assert (entry.action, entry.subject, entry.actor) == ("promote", "Q-4701-0012", "alice")
    assert entry.details["udr"] == "UDR-0010" and entry.details["policy_hash"] == policy.hash

    assert cli(bundled, "validate").exit_code == 0
    evaluated = cli(bundled, "evaluate", "--format", "json")
    assert evaluated.exit_code == 0 and "UDR-0010" in evaluated.stdout
    commit_change(bundled)
    gate = CliRunner().invoke(main, ["gate", "--config", str(bundled / "targeting.yaml"), "--no-cache"])
    assert gate.exit_code == 0, gate.output
    assert "UDR-0010" in gate.output and "promoted from Q-4701-0012" in gate.output


# ------------------------------------------------ a small project: every way to fail

@pytest.fixture
def small(tmp_path, monkeypatch) -> Path:
    root = make_policy_project(tmp_path / "repo")
    commit_base(root)
    monkeypatch.chdir(root)
    return root


def strict(root: Path) -> None:
    """Drop the lenient promotion settings: Q-1 then fails the default policy."""
    text = (root / "targeting.yaml").read_text(encoding="utf-8")
    (root / "targeting.yaml").write_text(text[:text.index("promotion:")], encoding="utf-8")


def test_policy_not_met_changes_nothing(small):
    strict(small)
    before = tree(small)
    result = cli(small, "promote", "Q-1", "--reviewer", "x")
    assert result.exit_code == 1
    assert "does not meet the promotion policy" in result.output and "evidence" in result.output
    assert tree(small) == before


@pytest.mark.parametrize("new_id, message", [
    ("udr 12", "must be capitals"), ("UDR--1", "must be capitals"), ("U-1", "already used"),
    ("Q-2", "already used"),
])
def test_bad_new_id_changes_nothing(small, new_id, message):
    before = tree(small)
    result = cli(small, "promote", "Q-1", "--reviewer", "x", "--new-id", new_id)
    assert result.exit_code == 1 and message in result.output, result.output
    assert tree(small) == before


def test_ledger_failure_restores_every_file(small, monkeypatch):
    before = tree(small)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ledger, "write", broken)
    project = open_project(small / "targeting.yaml")
    with pytest.raises(OSError, match="disk full"):
        promote(project, project_window(project), "Q-1", "x", new_id="U-9")
    assert tree(small) == before
    assert not list(small.rglob(".*.yaml.*")), "a temporary file was left behind"


def test_corrupt_ledger_refuses_and_changes_nothing(small):
    # A first promotion, then the ledger's last line is cut short (an interrupted write).
    assert cli(small, "promote", "Q-1", "--reviewer", "x", "--new-id", "U-8").exit_code == 0
    git(small, "checkout", "-q", "--", "queries")
    (small / "rules" / "u-8.yaml").unlink()
    log = small / "ledger.jsonl"
    log.write_bytes(log.read_bytes()[:-1])
    before = tree(small)
    result = cli(small, "promote", "Q-1", "--reviewer", "x", "--new-id", "U-9")
    assert result.exit_code == 1 and "incomplete" in result.output, result.output
    assert tree(small) == before


def test_failure_after_the_override_entry_leaves_the_ledger_as_it_was(small, monkeypatch):
    """With --override two entries are recorded, in one write: a failed write records neither."""
    strict(small)
    before = tree(small)
    real = ledger.prepare
    calls = []

    def record(path, records, now=None, signer=None):
        calls.append([r["action"] for r in records])
        return real(path, records, now, signer)

    def write_fails(path, data):
        raise OSError("disk full")

    monkeypatch.setattr(ledger, "prepare", record)
    monkeypatch.setattr(ledger, "write", write_fails)
    project = open_project(small / "targeting.yaml")
    with pytest.raises(OSError):
        promote(project, project_window(project), "Q-1", "x", override_reason="pilot")
    assert calls == [["override", "promote"]]
    assert tree(small) == before


def test_override_is_recorded(small):
    strict(small)
    assert cli(small, "promote", "Q-1", "--reviewer", "x", "--override").exit_code == 2  # needs --reason
    assert cli(small, "promote", "Q-1", "--reviewer", "x", "--reason", "why").exit_code == 2
    result = cli(small, "promote", "Q-1", "--reviewer", "boss", "--override", "--reason", "pilot at 1111")
    assert result.exit_code == 0, result.output
    override, promoted = ledger.read(small / "ledger.jsonl")
    assert (override.action, override.subject, override.actor) == ("override", "Q-1", "boss")
    assert override.details == {"reason": "pilot at 1111", "for": "promote"}
    assert promoted.action == "promote" and promoted.details["override"] is True
    assert set(promoted.details["failing"]) == {"evidence", "effectiveness", "persistence", "novelty"}
    assert promoted.evidence_digest == override.evidence_digest is not None
    udr = load(small / "rules" / "udr-0001.yaml")
    assert udr["override_reason"] == "pilot at 1111" and udr["promoted_from"] == "Q-1"
    assert not all(c["passed"] for c in udr["evidence"]["criteria"])
    assert ledger.verify(small / "ledger.jsonl").ok


def test_national_promotion_needs_transfer_and_drops_the_port(small):
    # Outside 1111 the national projection has 2 exams (b5, b6): too few to show it transfers.
    before = tree(small)
    refused = cli(small, "promote", "Q-1", "--reviewer", "x", "--national", "--new-id", "U-3")
    assert refused.exit_code == 1 and "fails transfer" in refused.output, refused.output
    assert "insufficient evidence elsewhere" in refused.output and tree(small) == before
    result = cli(small, "promote", "Q-1", "--reviewer", "x", "--national", "--new-id", "U-3",
                 "--override", "--reason", "national pilot")
    assert result.exit_code == 0, result.output
    assert ledger.read(small / "ledger.jsonl")[-1].details["failing"] == ["transfer"]
    udr = load(small / "rules" / "u-3.yaml")
    assert udr["where"] == {"description": {"contains": "bag"}}
    assert cli(small, "validate").exit_code == 0
    commit_change(small)
    assert cli(small, "gate", "--no-cache").exit_code == 0


def test_a_crlf_query_file_keeps_its_line_endings(small):
    path = small / "queries" / "q-1.yaml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    before = path.read_bytes()
    assert cli(small, "promote", "Q-1", "--reviewer", "x").exit_code == 0
    assert path.read_bytes() == before.replace(b"status: active\r\n", b"status: promoted\r\n", 1)


def test_promoted_query_is_no_longer_a_candidate_and_cannot_be_promoted_twice(small):
    assert cli(small, "promote", "Q-1", "--reviewer", "x", "--new-id", "U-3").exit_code == 0
    before = tree(small)
    result = cli(small, "promote", "Q-1", "--reviewer", "x", "--new-id", "U-4")
    assert result.exit_code == 1 and "status promoted" in result.output
    assert tree(small) == before
    assert "Q-1" not in cli(small, "candidates", "--format", "json").stdout


def test_retire_sets_status_writes_the_ledger_and_passes_the_gate(small):
    before = (small / "rules" / "u-2.yaml").read_text(encoding="utf-8")
    result = cli(small, "retire", "U-2", "--reviewer", "ntc", "--reason", "superseded by U-1")
    assert result.exit_code == 0, result.output
    text = (small / "rules" / "u-2.yaml").read_text(encoding="utf-8")
    assert text.startswith(before.rstrip("\n"))  # the old text stays, with a status line added
    doc = load(small / "rules" / "u-2.yaml")
    assert doc["status"] == "retired" and doc["retired_by"] == "ntc"
    assert doc["retirement_reason"] == "superseded by U-1" and doc["retired_at"].endswith("Z")
    (entry,) = ledger.read(small / "ledger.jsonl")
    assert (entry.action, entry.subject, entry.details["reason"]) == ("retire", "U-2", "superseded by U-1")
    assert ledger.verify(small / "ledger.jsonl").ok
    assert cli(small, "validate").exit_code == 0
    commit_change(small)
    assert cli(small, "gate", "--no-cache").exit_code == 0
    # A retired UDR cannot be retired again, and a query is not a UDR.
    again = tree(small)
    assert cli(small, "retire", "U-2", "--reviewer", "ntc", "--reason", "again").exit_code == 1
    assert cli(small, "retire", "Q-1", "--reviewer", "ntc", "--reason", "no").exit_code == 1
    assert tree(small) == again


@pytest.mark.parametrize("text, expected", [
    ("id: X\nstatus: active\nwhere: {a: 1}\n", "id: X\nstatus: retired\nwhere: {a: 1}\n"),
    ("id: X\nstatus: active  # the usual\ntitle: t\n", "id: X\nstatus: retired\ntitle: t\n"),
    ("id: X\n# status: draft\nstatus: active\n", "id: X\n# status: draft\nstatus: retired\n"),
    ("id: X\nwhere:\n  status: active\n", "id: X\nwhere:\n  status: active\nstatus: retired\n"),
    ("id: X\ntitle: t", "id: X\ntitle: t\nstatus: retired\n"),
    ("id: X\r\nstatus: active\r\ntitle: t\r\n", "id: X\r\nstatus: retired\r\ntitle: t\r\n"),
])
def test_set_status_changes_only_the_status_line(text, expected):
    assert set_status(text, "retired") == expected


def test_set_status_keeps_comments_quotes_and_order():
    text = (REPO / "queries" / "q-4701-0012.yaml").read_text(encoding="utf-8")
    changed = set_status(text, "promoted")
    old, new = text.splitlines(keepends=True), changed.splitlines(keepends=True)
    assert len(old) == len(new)
    differing = [(a, b) for a, b in zip(old, new) if a != b]
    assert differing == [("status: active\n", "status: promoted\n")]


# ------------------------------------------------ ids

def test_a_gap_in_udr_ids_is_not_filled(small):
    """Planted bug: an id from the number of UDRs (2 + 1 = UDR-0003) would clash with a UDR."""
    udr = (small / "rules" / "u-1.yaml").read_text(encoding="utf-8")
    for n in (1, 3):
        (small / "rules" / f"udr-{n:04d}.yaml").write_text(udr.replace("id: U-1", f"id: UDR-{n:04d}"))
    result = cli(small, "promote", "Q-1", "--reviewer", "x")
    assert result.exit_code == 0, result.output
    assert load(small / "rules" / "udr-0004.yaml")["id"] == "UDR-0004"
    assert ledger.read(small / "ledger.jsonl")[-1].details["udr"] == "UDR-0004"


def test_an_id_the_ledger_gave_is_never_given_again(small):
    """UDR-0007 was promoted, retired and its file deleted: its number stays used."""
    ledger.append(small / "ledger.jsonl", actor="x", action="promote", subject="Q-9",
                  details={"udr": "UDR-0007"})
    result = cli(small, "promote", "Q-1", "--reviewer", "x")
    assert result.exit_code == 0, result.output
    assert (small / "rules" / "udr-0008.yaml").exists()
    again = cli(small, "promote", "Q-2", "--reviewer", "x", "--new-id", "UDR-0007", "--override",
                "--reason", "x")
    assert again.exit_code == 1 and "UDR-0007 is already used (ledger entry 1)" in again.output


def test_the_udr_file_holds_no_value_outside_the_yaml_emitter(small):
    result = cli(small, "promote", "Q-1", "--reviewer", "ana [x]: y # z", "--new-id", "U-7")
    assert result.exit_code == 0, result.output
    text = (small / "rules" / "u-7.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# Promoted from Q-1 with `targeting promote`; see ledger.jsonl."
    assert load(small / "rules" / "u-7.yaml")["reviewer"] == "ana [x]: y # z"
