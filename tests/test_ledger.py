"""The audit ledger: appends chain, and every kind of tampering is caught and named."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from targeting.cli import main
from targeting.decide import ledger
from targeting.errors import TargetingError

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ledger of five entries; the working folder is its folder, so messages say ledger.jsonl."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ledger.jsonl"
    for i in range(1, 6):
        ledger.append(path, actor="ana", action="promote" if i % 2 else "retire",
                      subject=f"udr_{i}", details={"hit_rate": i / 10, "note": "ok"},
                      evidence_digest="ab" * 32 if i == 1 else None, now=T0)
    return path


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path: Path, parts: list[bytes]) -> None:
    path.write_bytes(b"".join(p + b"\n" for p in parts))


def edit(raw: bytes, rehash: bool = False, **changes: object) -> bytes:
    document = {**json.loads(raw), **changes}
    if rehash:
        document["hash"] = ledger.content_hash(document)
    return ledger.canonical(document).encode("utf-8")


# --- appending and reading -------------------------------------------------------------------

def test_append_chains_each_line_to_the_one_before(book: Path) -> None:
    raw = lines(book)
    entries = ledger.read(book)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev == "0" * 64
    for before, entry in zip(raw, entries[1:]):
        assert entry.prev == hashlib.sha256(before).hexdigest()
    assert all(line == ledger.canonical(json.loads(line)).encode() for line in raw)
    assert entries[0].at == "2024-05-01T12:00:00Z"
    assert entries[0].evidence_digest == "ab" * 32 and entries[1].evidence_digest is None
    assert entries[2].details == {"hit_rate": 0.3, "note": "ok"}


def test_append_returns_what_was_stored_and_non_ascii_survives(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    entry = ledger.append(path, actor="zoë", action="override", subject="udr_ü",
                          details={"reason": "Überprüfung"}, now=T0)
    assert ledger.read(path) == [entry]
    assert "Überprüfung".encode() in path.read_bytes()


def test_find_returns_matching_entries(book: Path) -> None:
    assert [e.seq for e in ledger.find(book, action="promote", subject="udr_3")] == [3]
    assert ledger.find(book, action="retire", subject="udr_3") == []


def test_missing_ledger_is_empty_and_intact(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    assert ledger.read(path) == []
    assert ledger.verify(path) == ledger.VerifyResult(True, 0, "0" * 64, None)


def test_details_must_be_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with pytest.raises(ledger.LedgerError, match="details must be plain JSON"):
        ledger.append(path, actor="a", action="promote", subject="r", details={"x": float("nan")})
    with pytest.raises(ledger.LedgerError, match="field 'details' must be dict"):
        ledger.append(path, actor="a", action="promote", subject="r", details=[1])  # type: ignore
    assert not path.exists()


def test_naive_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.append(tmp_path / "l.jsonl", actor="a", action="promote", subject="r",
                      details={}, now=datetime(2024, 1, 1))


def test_read_names_file_and_line_of_a_bad_line(book: Path) -> None:
    raw = lines(book)
    write_lines(book, raw[:2] + [b"{not json"] + raw[3:])
    with pytest.raises(ledger.LedgerError, match=r"^ledger.jsonl:3: not a valid JSON line") as exc:
        ledger.read(book)
    assert isinstance(exc.value, TargetingError) and exc.value.exit_code == 1


def test_append_refuses_to_chain_onto_a_partial_line(book: Path) -> None:
    data = book.read_bytes()
    book.write_bytes(data[:-10])
    with pytest.raises(ledger.LedgerError, match=r"ledger.jsonl:5: the last line is incomplete"):
        ledger.append(book, actor="a", action="promote", subject="r", details={})
    assert book.read_bytes() == data[:-10]


# --- tampering -------------------------------------------------------------------------------

def test_intact_ledger_verifies(book: Path) -> None:
    result = ledger.verify(book)
    assert result.ok and result.entries == 5 and result.problem is None
    assert result.head == hashlib.sha256(lines(book)[-1]).hexdigest()


def test_edited_middle_entry_is_named(book: Path) -> None:
    raw = lines(book)
    raw[2] = edit(raw[2], details={"hit_rate": 0.9, "note": "ok"})
    write_lines(book, raw)
    result = ledger.verify(book)
    assert not result.ok and result.entries == 2
    assert result.problem == ("ledger.jsonl:3: entry 3 was edited: "
                              "its content does not match its hash.")


def test_edited_and_rehashed_middle_entry_breaks_the_next_link(book: Path) -> None:
    raw = lines(book)
    raw[2] = edit(raw[2], rehash=True, actor="mallory")
    write_lines(book, raw)
    assert ledger.verify(book).problem == (
        "ledger.jsonl:4: entry 4 was edited or an entry before it was removed: "
        "its prev hash does not match line 3")


def test_edited_last_entry_is_caught_by_its_own_hash(book: Path) -> None:
    raw = lines(book)
    raw[4] = edit(raw[4], subject="udr_99")
    write_lines(book, raw)
    assert ledger.verify(book).problem == ("ledger.jsonl:5: entry 5 was edited: "
                                           "its content does not match its hash.")


def test_reformatted_last_entry_is_caught(book: Path) -> None:
    raw = lines(book)
    raw[4] = json.dumps(json.loads(raw[4]), indent=None).encode()  # same content, spaces added
    write_lines(book, raw)
    assert ledger.verify(book).problem.startswith(
        "ledger.jsonl:5: entry 5 was edited: the line is not in canonical form")


def test_deleted_middle_entry_is_named(book: Path) -> None:
    raw = lines(book)
    write_lines(book, raw[:2] + raw[3:])
    result = ledger.verify(book)
    assert not result.ok and result.entries == 2
    assert result.problem == ("ledger.jsonl:3: entry 4 found where entry 3 was expected: "
                              "entries 3..3 were removed or moved.")


def test_deleted_first_entry_is_named(book: Path) -> None:
    write_lines(book, lines(book)[1:])
    assert ledger.verify(book).problem.startswith(
        "ledger.jsonl:1: entry 2 found where entry 1 was expected")


def test_renumbered_deletion_breaks_the_chain(book: Path) -> None:
    raw = lines(book)
    kept = raw[:2] + [edit(raw[3], rehash=True, seq=3)]
    write_lines(book, kept)
    assert ledger.verify(book).problem == (
        "ledger.jsonl:3: entry 3 was edited or an entry before it was removed: "
        "its prev hash does not match line 2")


def test_reordered_entries_are_named(book: Path) -> None:
    raw = lines(book)
    raw[1], raw[2] = raw[2], raw[1]
    write_lines(book, raw)
    result = ledger.verify(book)
    assert not result.ok and result.entries == 1
    assert result.problem == ("ledger.jsonl:2: entry 3 found where entry 2 was expected: "
                              "entries 2..2 were removed or moved.")


def test_truncated_mid_line_is_named(book: Path) -> None:
    data = book.read_bytes()
    book.write_bytes(data[: len(data) - 40])
    result = ledger.verify(book)
    assert not result.ok and result.entries == 4
    assert result.problem == ("ledger.jsonl:5: the last line is incomplete (no newline at the "
                              "end): the file was truncated or a write was interrupted.")


def test_removed_last_entry_is_caught_only_with_an_anchor(book: Path) -> None:
    anchor = ledger.head(book)
    write_lines(book, lines(book)[:-1])
    assert ledger.verify(book).ok  # the chain alone cannot tell
    result = ledger.verify(book, anchor=anchor)
    assert not result.ok
    assert result.problem.startswith(f"ledger.jsonl: the anchored head {anchor} is not in")


def test_anchor_stays_valid_as_entries_are_added(book: Path) -> None:
    anchor = ledger.head(book)
    ledger.append(book, actor="b", action="override", subject="udr_2", details={}, now=T0)
    assert ledger.verify(book, anchor=anchor).ok


# --- concurrency -----------------------------------------------------------------------------

APPENDER = """
import sys
from pathlib import Path
from targeting.decide import ledger
path, worker = Path(sys.argv[1]), int(sys.argv[2])
for i in range(25):
    ledger.append(path, actor=f"w{worker}", action="promote", subject=f"r{i}",
                  details={"worker": worker, "i": i})
"""


def test_concurrent_appends_keep_one_valid_chain(tmp_path: Path) -> None:
    """Each writer is a fresh interpreter: forking this process (which may run DuckDB and Polars
    threads under pytest -n) once left segfaulting children."""
    path = tmp_path / "ledger.jsonl"
    workers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(w)])
               for w in range(4)]
    assert [p.wait(timeout=120) for p in workers] == [0, 0, 0, 0]
    result = ledger.verify(path)
    assert result.ok, result.problem
    assert result.entries == 100
    recorded = {(e.actor, e.subject) for e in ledger.read(path)}
    assert recorded == {(f"w{w}", f"r{i}") for w in range(4) for i in range(25)}


def test_no_test_forks_a_process():
    """Concurrency tests start fresh interpreters (subprocess or spawn), never fork."""
    needles = ["get_context(" + '"fork")', "os." + "fork(", "set_start_method(" + '"fork"']
    for source in Path(__file__).parent.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert not [n for n in needles if n in text], source.name


# --- command line ----------------------------------------------------------------------------

def test_cli_verify_ok_and_broken(book: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["ledger", "verify", "--file", "ledger.jsonl"])
    assert result.exit_code == 0, result.output
    assert result.output == (f"ledger.jsonl: 5 entries, chain intact, "
                             f"head {ledger.head(book)}\n")
    write_lines(book, lines(book)[:2] + lines(book)[3:])
    result = runner.invoke(main, ["ledger", "verify", "--file", "ledger.jsonl"])
    assert result.exit_code == 1
    assert "ledger.jsonl:3: entry 4 found where entry 3 was expected" in result.output


def test_cli_finds_the_ledger_next_to_the_config(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "targeting.yaml").write_text(
        "data:\n  manifest: data/manifest.csv\n  exams: data/exams.csv\n")
    ledger.append(project / "ledger.jsonl", actor="a", action="promote", subject="r",
                  details={"reasons": ["[bold]x[/bold]"]}, now=T0)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    config = ["--config", "project/targeting.yaml"]
    verified = runner.invoke(main, ["ledger", "verify", *config])
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith("project/ledger.jsonl: 1 entries, chain intact")
    shown = runner.invoke(main, ["ledger", "show", *config])
    assert shown.exit_code == 0, shown.output
    assert "promote" in shown.output and "[bold]x[/bold]" in shown.output


def test_cli_show_json_and_head(book: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["ledger", "show", "--file", "ledger.jsonl", "--format", "json"])
    assert shown.exit_code == 0
    assert json.loads(shown.output)["entries"] == [e.as_dict() for e in ledger.read(book)]
    head = runner.invoke(main, ["ledger", "show", "--file", "ledger.jsonl", "--head"])
    assert head.exit_code == 0 and head.output == ledger.head(book) + "\n"


def test_cli_head_of_a_broken_chain_fails(book: Path) -> None:
    raw = lines(book)
    raw[0] = edit(raw[0], actor="mallory")
    write_lines(book, raw)
    result = CliRunner().invoke(main, ["ledger", "show", "--file", "ledger.jsonl", "--head"])
    assert result.exit_code == 1
    assert "error: ledger.jsonl:1: entry 1 was edited" in result.output


def test_cli_verify_with_anchor(book: Path) -> None:
    anchor = ledger.head(book)
    write_lines(book, lines(book)[:-1])
    result = CliRunner().invoke(main, ["ledger", "verify", "--file", "ledger.jsonl",
                                       "--anchor", anchor])
    assert result.exit_code == 1 and "anchored head" in result.output


def test_append_many_chains_its_entries_in_one_write(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger.append(path, actor="a", action="retire", subject="U-1", details={})
    first, second = ledger.append_many(path, [
        {"actor": "b", "action": "override", "subject": "Q-1", "details": {"reason": "r"}},
        {"actor": "b", "action": "promote", "subject": "Q-1", "details": {"udr": "U-2"}},
    ])
    assert (first.seq, second.seq) == (2, 3)
    assert ledger.verify(path).ok and ledger.verify(path).entries == 3
    assert [e.action for e in ledger.read(path)] == ["retire", "override", "promote"]
