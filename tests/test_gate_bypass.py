"""Each way issue 15 found to get a change past the gate or the ledger, tried as a hostile
contributor would in a git copy of a project: every one now fails the gate, is refused, or is
recovered."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from gate_project import UDR_1, cli, git, make_project, merge_to_main, outcome

from targeting.data.settings import GateSettings
from targeting.decide import ledger
from targeting.gate.judge import regression_reasons

# UDR-0001 loosened to four countries, any goods: hit rate 18% -> 9%, flags per day x30.
LOOSE_UDR_1 = UDR_1.replace(
    'where:\n  all:\n    - hts_code: {startswith: "8708"}\n    - country_of_origin: CN\n',
    "where:\n  country_of_origin: {in: [CN, DE, MX, US]}\n").replace(
    "country_of_origin: DE}", "country_of_origin: VN}")
assert LOOSE_UDR_1.count("VN") == 1 and "startswith" not in LOOSE_UDR_1
ALL_SHIPMENTS = """\
id: UDR-0003
kind: udr
title: Everything
owner: eve
status: active
created: 2023-01-01
rationale: Examine it all.
where:
  declared_value: {ge: 0}
tests:
  match: [{declared_value: 5}]
  no_match: [{declared_value: -1}]
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("bypass") / "repo", csv=True)


@pytest.fixture
def repo(template, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def gate(root: Path, *args: str) -> dict:
    out = root.parent / "gate.json"
    result = cli(root, "gate", "--json", str(out), *args)
    doc = json.loads(out.read_text())
    doc["exit"], doc["output"] = result.exit_code, result.output
    return doc


def message(doc: dict, rule: str, name: str) -> str:
    return next(c["message"] for c in doc["checks"] if c["rule"] == rule and c["name"] == name)


def append_config(root: Path, text: str) -> None:
    with open(root / "targeting.yaml", "a", encoding="utf-8") as handle:
        handle.write(text)


def forge(path: Path, **record) -> None:
    """A correctly chained line written with the library, as anyone can."""
    ledger.append(path, actor=record.pop("actor", "nobody"), **record)


# --------------------------------------------------------------------- the branch's own settings

def test_a_branch_cannot_loosen_the_thresholds_it_is_judged_by(repo):
    """Loosened UDR-0001 (hit rate 18% -> ~9%, flags/day x30) with its own generous `gate:` and
    zero `promotion:` floors used to pass."""
    (repo / "rules/udr-0001.yaml").write_text(LOOSE_UDR_1)
    append_config(repo, "gate:\n  max_lower_bound_drop: 1.0\n  max_workload_growth: 100000\n"
                        "promotion:\n  min_hit_rate: 0\n  lift_factor: 0\n"
                        "  max_flags_per_day: 100000\n")
    doc = gate(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "UDR-0001", "regression") == "fail"  # the base's tolerances
    assert outcome(doc, "UDR-0001", "effectiveness") == "fail"  # the base's floor
    assert outcome(doc, "settings", "policy-change") == "fail"
    assert "targeting.yaml changes promotion, gate since the base" in message(
        doc, "settings", "policy-change")


def test_editing_only_the_promotion_floors_does_not_admit_a_hand_written_udr(repo):
    (repo / "rules/udr-0003.yaml").write_text(ALL_SHIPMENTS)
    append_config(repo, "promotion:\n  min_hit_rate: 0\n  lift_factor: 0\n")
    doc = gate(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "UDR-0003", "effectiveness") == "fail"
    assert outcome(doc, "UDR-0003", "promotion") == "warn"  # written by hand
    assert outcome(doc, "settings", "policy-change") == "fail"


def test_a_recorded_policy_change_passes_and_applies_once_merged(repo):
    append_config(repo, "promotion:\n  min_hit_rate: 0\n  lift_factor: 0\n")
    assert outcome(gate(repo), "settings", "policy-change") == "fail"
    refused = cli(repo, "policy-change", "--reviewer", "ntc\x1b[2J", "--reason", "pilot")
    assert refused.exit_code == 2 and "control characters" in refused.output
    recorded = cli(repo, "policy-change", "--reviewer", "ntc", "--reason", "pilot year")
    assert recorded.exit_code == 0, recorded.output
    (entry,) = ledger.read(repo / "ledger.jsonl")
    assert (entry.action, entry.subject, entry.details["sections"]) == (
        "policy-change", "targeting.yaml", ["promotion"])
    assert entry.details["after"]["promotion"]["lift_factor"] == 0
    again = cli(repo, "policy-change", "--reviewer", "ntc", "--reason", "pilot year")
    assert again.exit_code == 1 and "already recorded (ledger entry 1)" in again.output
    doc = gate(repo)
    assert doc["exit"] == 0 and outcome(doc, "settings", "policy-change") == "pass"
    # The entry is for this change only: changing the settings again needs a new one.
    append_config(repo, "  min_examined: 1\n")
    doc = gate(repo)
    assert outcome(doc, "settings", "policy-change") == "fail"
    assert outcome(doc, "ledger", "entries") == "fail"  # the old entry matches nothing now
    # Merged, the new floors judge the next branch: the hand-written UDR passes its floor.
    git(repo, "checkout", "--", "targeting.yaml")
    append_config(repo, "promotion:\n  min_hit_rate: 0\n  lift_factor: 0\n")
    merge_to_main(repo, "policy: pilot year")
    (repo / "rules/udr-0003.yaml").write_text(ALL_SHIPMENTS)
    doc = gate(repo)
    assert outcome(doc, "UDR-0003", "effectiveness") == "pass"
    assert not [c for c in doc["checks"] if c["rule"] == "settings"]


def test_policy_change_needs_a_change(repo):
    result = cli(repo, "policy-change", "--reviewer", "ntc", "--reason", "nothing")
    assert result.exit_code == 1 and "no policy change to record" in result.output


def test_retargeting_the_rule_folders_shows_every_move_and_deletion(repo):
    """`rules: [rules2]` with UDR-0001 moved there and UDR-0002 deleted used to pass, and the
    deletion was not even mentioned."""
    text = (repo / "targeting.yaml").read_text().replace("rules: [rules]", "rules: [rules2]")
    (repo / "targeting.yaml").write_text(text)
    (repo / "rules2").mkdir()
    git(repo, "mv", "rules/udr-0001.yaml", "rules2/udr-0001.yaml")
    git(repo, "rm", "-q", "rules/udr-0002.yaml")
    doc = gate(repo)
    assert doc["exit"] == 1
    changes = {c["id"]: (c["change"], c["path"]) for c in doc["changes"]}
    assert changes == {"UDR-0001": ("changed", "rules2/udr-0001.yaml"),
                       "UDR-0002": ("removed", "rules/udr-0002.yaml")}
    assert outcome(doc, "UDR-0002", "retirement") == "fail"
    assert outcome(doc, "UDR-0001", "regression") == "pass"  # moved, not changed
    assert "changes rules since the base" in message(doc, "settings", "policy-change")


# --------------------------------------------------------------------- the ledger against the base

@pytest.fixture
def with_history(repo) -> Path:
    """Three entries merged on main: a policy change's worth of history to tamper with."""
    book = repo / "ledger.jsonl"
    for n in range(3):
        ledger.append(book, actor="ntc", action="note", subject=f"N-{n}", details={"n": n})
    merge_to_main(repo, "ledger history")
    return book


def rechain(lines: list[dict]) -> bytes:
    """The entries renumbered and re-hashed into a valid chain: what a careful forger writes."""
    out, prev = [], ledger.GENESIS
    for seq, entry in enumerate(lines, start=1):
        document = {**entry, "seq": seq, "prev": prev}
        document["hash"] = ledger.content_hash(document)
        line = ledger.canonical(document).encode()
        out.append(line + b"\n")
        prev = ledger.sha256(line)
    return b"".join(out)


def test_a_rewritten_and_rehashed_history_fails(with_history):
    entries = [json.loads(line) for line in with_history.read_text().splitlines()]
    entries[0]["details"] = {"n": 100}
    with_history.write_bytes(rechain(entries))
    assert ledger.verify(with_history).ok  # the chain alone cannot tell
    doc = gate(with_history.parent)
    assert doc["exit"] == 1 and outcome(doc, "ledger", "history") == "fail"
    assert "line 1 differs from the base's ledger" in message(doc, "ledger", "history")


def test_a_truncated_history_fails(with_history):
    lines = with_history.read_bytes().splitlines(keepends=True)
    with_history.write_bytes(lines[0])
    assert ledger.verify(with_history).ok
    doc = gate(with_history.parent)
    assert doc["exit"] == 1
    assert "3 entries and this branch's only 1: 2 merged entries were removed" in message(
        doc, "ledger", "history")


def test_a_forged_retire_line_does_not_let_a_udr_go(repo):
    """A correctly chained `retire` by "nobody" let UDR-0002 be deleted. UDR-0002 is the
    project's best rule: the policy does not propose it and the line has no override."""
    forge(repo / "ledger.jsonl", action="retire", subject="UDR-0002",
          details={"udr": "UDR-0002", "reason": "tidy"})
    (repo / "rules/udr-0002.yaml").unlink()
    doc = gate(repo)
    assert doc["exit"] == 1
    assert outcome(doc, "UDR-0002", "retirement") == "fail"
    assert "does not propose UDR-0002" in message(doc, "UDR-0002", "retirement")


def test_a_forged_line_for_no_change_fails(repo):
    forge(repo / "ledger.jsonl", action="retire", subject="UDR-0001", details={"reason": "x"})
    forge(repo / "ledger.jsonl", action="bless", subject="UDR-0001", details={})
    doc = gate(repo)
    assert doc["exit"] == 1
    failures = [c["message"] for c in doc["checks"] if c["name"] == "entries"]
    assert len(failures) == 2
    assert "UDR-0001 is not an active UDR that this branch retires" in failures[0]
    assert "unknown action 'bless'" in failures[1]


def test_a_forged_promote_line_does_not_satisfy_the_promotion_check(repo):
    """A hand-written UDR claiming promoted_from with a hand-made `promote` line used to pass."""
    udr = (repo / "rules/udr-0002.yaml").read_text().replace("UDR-0002", "UDR-0009")
    (repo / "rules/udr-0009.yaml").write_text(udr + "promoted_from: Q-0001-0001\n")
    path = repo / "queries/q-0001-0001.yaml"
    path.write_text(path.read_text().replace("status: active", "status: promoted"))
    forge(repo / "ledger.jsonl", action="promote", subject="Q-0001-0001",
          details={"query": "Q-0001-0001", "udr": "UDR-0009"})
    doc = gate(repo)
    assert doc["exit"] == 1 and outcome(doc, "UDR-0009", "promotion") == "fail"
    text = message(doc, "UDR-0009", "promotion")
    assert "evidence block is not the evidence the entry recorded" in text
    assert "another promotion policy" in text


def test_a_claimed_override_needs_its_override_entry(repo):
    """A forged `retire` with `override: true` would skip the policy check; without the override
    entry before it (which reviewers see in the diff) it matches nothing."""
    forge(repo / "ledger.jsonl", action="retire", subject="UDR-0002",
          details={"udr": "UDR-0002", "override": True, "reason": "tidy"})
    (repo / "rules/udr-0002.yaml").unlink()
    doc = gate(repo)
    assert doc["exit"] == 1
    assert "no override entry comes before it" in message(doc, "ledger", "entries")


def test_only_a_new_retire_entry_for_the_removed_udr_counts(repo):
    """Planted bug: a retirement check that accepts any entry naming the UDR. An override, a
    promote naming it, a retire of another UDR and an old (merged) retire do not count."""
    book = repo / "ledger.jsonl"
    forge(book, action="retire", subject="UDR-0002", details={"udr": "UDR-0002", "override": True})
    merge_to_main(repo, "an old retirement, merged while UDR-0002 stayed active")
    forge(book, action="override", subject="UDR-0002", details={"for": "retire", "reason": "x"})
    forge(book, action="promote", subject="Q-0001-0001", details={"udr": "UDR-0002"})
    forge(book, action="retire", subject="UDR-0001", details={"udr": "UDR-0001", "override": True})
    (repo / "rules/udr-0002.yaml").unlink()
    doc = gate(repo)
    assert outcome(doc, "UDR-0002", "retirement") == "fail"
    assert "without a retirement record among this branch's ledger entries" in message(
        doc, "UDR-0002", "retirement")


# --------------------------------------------------------------------- retirement

def test_retiring_a_good_udr_needs_an_override_and_cannot_be_undone_by_hand(repo):
    """`retire UDR-0001 --reviewer Bob --reason tidy` retired the best UDR with no warning, and
    setting it back to active by hand passed the gate and `ledger verify`."""
    before = (repo / "rules/udr-0001.yaml").read_bytes()
    refused = cli(repo, "retire", "UDR-0001", "--reviewer", "Bob", "--reason", "tidy")
    assert refused.exit_code == 1 and "does not propose UDR-0001" in refused.output
    assert (repo / "rules/udr-0001.yaml").read_bytes() == before
    assert not (repo / "ledger.jsonl").exists()
    done = cli(repo, "retire", "UDR-0001", "--reviewer", "Bob", "--reason", "tidy", "--override")
    assert done.exit_code == 0, done.output
    override, retire = ledger.read(repo / "ledger.jsonl")
    assert (override.action, override.details) == ("override", {"reason": "tidy", "for": "retire"})
    assert retire.action == "retire" and retire.details["override"] is True
    assert retire.details["proposed"] == []
    assert gate(repo)["exit"] == 0
    merge_to_main(repo, "retire UDR-0001")
    path = repo / "rules/udr-0001.yaml"
    path.write_text(path.read_text().replace("status: retired", "status: active"))
    doc = gate(repo)
    assert doc["exit"] == 1 and outcome(doc, "UDR-0001", "status") == "fail"
    verify = cli(repo, "ledger", "verify")
    assert verify.exit_code == 1
    assert "UDR-0001 is active in rules/udr-0001.yaml, but the ledger retired it" in verify.output


# --------------------------------------------------------------------- what is written and shown

def test_a_reviewer_name_cannot_inject_keys_or_escapes(repo):
    """`--reviewer $'eve\\nretired_by: mallory'` wrote a second top-level key into the file."""
    before = (repo / "rules/udr-0002.yaml").read_bytes()
    for name in ("eve\nretired_by: mallory", "eve\x1b[31m", "eve\u202e", "   "):
        result = cli(repo, "retire", "UDR-0002", "--reviewer", name, "--reason", "x", "--override")
        assert result.exit_code == 2, (name, result.output)
    result = cli(repo, "retire", "UDR-0002", "--reviewer", "eve", "--reason", "a\nb", "--override")
    assert result.exit_code == 2 and "--reason contains control characters (\\n)" in result.output
    assert (repo / "rules/udr-0002.yaml").read_bytes() == before


def test_ledger_show_strips_escape_sequences(repo, monkeypatch):
    book = repo / "ledger.jsonl"
    forge(book, actor="eve\x1b]0;pwned\x07\x1b[31m[bold]", action="note", subject="X",
          details={"why": "\x1b[2J"})
    monkeypatch.setenv("COLUMNS", "200")
    result = cli(repo, "ledger", "show")
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "eve]0;pwned[31m[bold]" in result.output  # shown, not obeyed


# --------------------------------------------------------------------- stale evidence

def test_a_same_size_same_time_data_edit_is_not_served_from_the_cache(repo):
    """The store was keyed by path, size and mtime: after this edit the gate computed from the
    stale store and cached it under the new fingerprint, until .targeting-cache was deleted."""
    path = repo / "rules/udr-0002.yaml"
    path.write_text(path.read_text().replace("title: Lamps from CN", "title: Lamps"))
    first = gate(repo)
    after = next(c["after"] for c in first["changes"] if c["id"] == "UDR-0002")
    manifest = repo / "data/manifest.csv"
    stat, text = manifest.stat(), manifest.read_text()
    rows = [line for line in text.splitlines() if ",8512" in line and ",CN," in line]
    manifest.write_text(text.replace(rows[0], rows[0].replace(",CN,", ",DE,"), 1))
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert manifest.stat().st_size == stat.st_size
    second = gate(repo)
    assert second["cache"]["misses"] > 0
    now = next(c["after"] for c in second["changes"] if c["id"] == "UDR-0002")
    assert now["targeted"] == after["targeted"] - 1
    third = gate(repo)  # and the cache now holds the new numbers
    assert third["cache"]["misses"] == 0
    assert next(c["after"] for c in third["changes"] if c["id"] == "UDR-0002") == now


# --------------------------------------------------------------------- tolerances

@pytest.mark.parametrize("new, fails", [(110.0, False), (125.0, False), (130.0, True)])
def test_workload_growth_tolerance_is_relative(new, fails):
    """Planted bug: an absolute tolerance (flags/day may grow by 0.25) would fail 100 -> 110."""
    row = {"hit_rate": 0.2, "hit_rate_low": 0.15, "hit_rate_high": 0.25,
           "est_hit_rate": 0.2, "est_hit_rate_low": 0.15, "est_hit_rate_high": 0.25}
    reasons = regression_reasons(GateSettings(), "udr", {**row, "flags_per_day": 100.0},
                                 {**row, "flags_per_day": new})
    assert bool(reasons) is fails
    if fails:
        assert reasons == ["workload grew +30% (100.0 → 130.0 flags/day; tolerance +25%)"]
