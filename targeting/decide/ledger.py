"""The audit ledger: an append-only, hash-chained JSON Lines record of promotions,
retirements and overrides, so a figure changed by hand leaves a trace."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from targeting.data.config import display_path
from targeting.errors import TargetingError

LEDGER_NAME = "ledger.jsonl"
GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor", "action", "subject", "details", "evidence_digest", "prev", "hash")
_TYPES: dict[str, tuple[type, ...]] = {
    "seq": (int,), "at": (str,), "actor": (str,), "action": (str,), "subject": (str,),
    "details": (dict,), "evidence_digest": (str, type(None)), "prev": (str,), "hash": (str,),
}


class LedgerError(TargetingError):
    """The ledger cannot be read or written, or its chain is broken."""

    exit_code = 1


@dataclass(frozen=True)
class Entry:
    """One line of the ledger: who did what to which rule, chained to the line before."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = field(hash=False)
    evidence_digest: str | None
    prev: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `verify`: `entries` counts the lines checked and found intact; `head` is the
    sha256 of the last intact line (GENESIS for an empty ledger); `problem` names the first
    bad line."""

    ok: bool
    entries: int
    head: str
    problem: str | None = None


def canonical(document: dict[str, Any]) -> str:
    """The one JSON spelling of a document, so equal content hashes equally."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(document: dict[str, Any]) -> str:
    """The `hash` field: sha256 of the entry's canonical JSON without `hash` itself."""
    body = {key: value for key, value in document.items() if key != "hash"}
    return sha256(canonical(body).encode("utf-8"))


def utc_stamp(now: datetime | None = None) -> str:
    """UTC ISO-8601 with a Z, to the second."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("append(now=...) needs a timezone-aware datetime, e.g. with tzinfo=UTC")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------- writing

def append(path: Path, *, actor: str, action: str, subject: str, details: dict[str, Any],
           evidence_digest: str | None = None, now: datetime | None = None) -> Entry:
    """Append one entry under an exclusive lock and return it; the file is never rewritten."""
    return append_many(path, [{"actor": actor, "action": action, "subject": subject,
                               "details": details, "evidence_digest": evidence_digest}], now)[-1]


def append_many(path: Path, records: list[dict[str, Any]], now: datetime | None = None) -> list[Entry]:
    """Append several entries (dicts of actor, action, subject, details, evidence_digest) as one
    write under one lock: all of them are recorded or, on a crash, a partial last line remains
    that verify reports. An override and the promotion it allows go in together this way."""
    path = Path(path)
    documents = []
    for record in records:
        document = {"seq": 0, "at": utc_stamp(now), "actor": record["actor"],
                    "action": record["action"], "subject": record["subject"],
                    "details": record["details"], "evidence_digest": record.get("evidence_digest"),
                    "prev": GENESIS}
        _check_types(document, path, None)
        _encode(document, path)  # refuse unserialisable details before touching the file
        documents.append(document)
    lines = []
    with _locked(path):
        last_seq, head = _tail(path)
        for document in documents:
            document.update(seq=last_seq + 1, prev=head)
            document["hash"] = content_hash(document)
            line = _encode(document, path)
            lines.append(line)
            last_seq, head = document["seq"], sha256(line.rstrip(b"\n"))
        _append_line(path, b"".join(lines))
    # Built from the stored bytes, so the caller sees exactly what was recorded (and a copy).
    return [Entry(**json.loads(line)) for line in lines]


@contextmanager
def _locked(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold a flock on the sibling `<name>.lock` file: writers take it exclusively, so two
    promotions queue up instead of both chaining to the same last line; readers take it shared,
    so they never see a half-written line. A reader that cannot create the lock file (a
    read-only checkout) reads without it."""
    lock = path.with_name(path.name + ".lock")
    if not shared:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if not shared:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _tail(path: Path) -> tuple[int, str]:
    """The last entry's seq and the sha256 of its line; (0, GENESIS) for a missing file."""
    if not path.exists():
        return 0, GENESIS
    lines = _split(path.read_bytes())  # the caller holds the exclusive lock
    if not lines:
        return 0, GENESIS
    number, raw, complete = lines[-1]
    where = f"{display_path(path)}:{number}"
    if not complete:
        raise LedgerError(f"{where}: the last line is incomplete (no newline at the end): a write "
                          f"was interrupted or the file was truncated. Nothing was appended. "
                          f"Run `targeting ledger verify` and restore the ledger from version "
                          f"control before recording more.")
    entry = _parse(raw, path, number)
    if content_hash(entry.as_dict()) != entry.hash:
        raise LedgerError(f"{where}: entry {entry.seq} was edited (its hash does not match its "
                          f"content). Nothing was appended. Run `targeting ledger verify`.")
    return entry.seq, sha256(raw)


def _encode(document: dict[str, Any], path: Path) -> bytes:
    try:
        return (canonical(document) + "\n").encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise LedgerError(f"{display_path(path)}: cannot record entry for {document['subject']!r}:"
                          f" details must be plain JSON (str, int, float, bool, None, lists and "
                          f"dicts with string keys; no NaN): {exc}") from exc


def _append_line(path: Path, line: bytes) -> None:
    """One os.write in O_APPEND mode, then fsync: the line lands whole at the end or, on a crash,
    as a partial last line that verify reports."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the new file's directory entry durable too."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------- reading

def _lines(path: Path) -> list[tuple[int, bytes, bool]]:
    """The file's lines, read under the shared lock; [] for a missing file."""
    if not path.exists():
        return []
    with _locked(path, shared=True):
        return _split(path.read_bytes())


def _split(data: bytes) -> list[tuple[int, bytes, bool]]:
    """(line number, bytes without the newline, ended by a newline) for each line."""
    if not data:
        return []
    parts = data.split(b"\n")
    complete_last = parts[-1] == b""
    if complete_last:
        parts.pop()
    return [(i, raw, i < len(parts) or complete_last) for i, raw in enumerate(parts, start=1)]


def _parse(raw: bytes, path: Path, number: int) -> Entry:
    where = f"{display_path(path)}:{number}"
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LedgerError(f"{where}: not a valid JSON line ({exc}); the ledger was edited or "
                          f"truncated. Restore it from version control.") from exc
    if not isinstance(document, dict):
        raise LedgerError(f"{where}: expected a JSON object, found {type(document).__name__}.")
    _check_types(document, path, number)
    return Entry(**document)


def _check_types(document: dict[str, Any], path: Path, number: int | None) -> None:
    where = f"{display_path(path)}:{number}" if number else display_path(path)
    required = FIELDS if number is not None else FIELDS[:-1]  # a new entry has no hash yet
    missing = [key for key in required if key not in document]
    unknown = sorted(set(document) - set(FIELDS))
    if missing or unknown:
        raise LedgerError(f"{where}: entry has missing fields {missing} or unknown fields "
                          f"{unknown}; expected exactly {list(FIELDS)}.")
    for key, types in _TYPES.items():
        value = document.get(key)
        if key in document and (not isinstance(value, types) or
                                (key == "seq" and isinstance(value, bool))):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise LedgerError(f"{where}: field {key!r} must be {wanted}, "
                              f"found {type(value).__name__}.")


def read(path: Path) -> list[Entry]:
    """Every entry in file order ([] for a missing file); raises LedgerError on a bad line.
    Does not check the chain: use `verify` for that."""
    path = Path(path)
    return [_parse(raw, path, number) for number, raw, _ in _lines(path)]


def find(path: Path, *, action: str, subject: str) -> list[Entry]:
    """Entries recording `action` on rule `subject`, oldest first."""
    return [e for e in read(path) if e.action == action and e.subject == subject]


# ---------------------------------------------------------------------------------- verifying

def verify(path: Path, anchor: str | None = None) -> VerifyResult:
    """Check every line: complete, canonical, its own hash, seq one more than the line before,
    prev equal to the sha256 of the line before. Stops at the first bad line. With `anchor`
    (a head recorded earlier), also require that line to be still in the chain."""
    path = Path(path)
    lines = _lines(path)
    head, seen, count = GENESIS, {GENESIS}, 0
    for number, raw, complete in lines:
        problem = _line_problem(path, number, raw, complete, count, head)
        if problem:
            return VerifyResult(False, count, head, problem)
        head, count = sha256(raw), count + 1
        seen.add(head)
    if anchor is not None and anchor.lower() not in seen:
        return VerifyResult(False, count, head, (
            f"{display_path(path)}: the anchored head {anchor} is not in the ledger: entries "
            f"recorded up to that anchor were removed or edited. Restore the ledger from version "
            f"control."))
    return VerifyResult(True, count, head)


def _line_problem(path: Path, number: int, raw: bytes, complete: bool, before: int,
                  prev_head: str) -> str | None:
    where = f"{display_path(path)}:{number}"
    if not complete:
        return (f"{where}: the last line is incomplete (no newline at the end): the file was "
                f"truncated or a write was interrupted.")
    try:
        entry = _parse(raw, path, number)
    except LedgerError as exc:
        return str(exc)
    document = entry.as_dict()
    if content_hash(document) != entry.hash:
        return f"{where}: entry {entry.seq} was edited: its content does not match its hash."
    if canonical(document).encode("utf-8") != raw:
        return (f"{where}: entry {entry.seq} was edited: the line is not in canonical form "
                f"(the ledger is written only by `targeting`, never by hand).")
    if entry.seq != before + 1:
        return _seq_problem(where, entry.seq, before + 1)
    if entry.prev != prev_head:
        return (f"{where}: entry {entry.seq} was edited or an entry before it was removed: its "
                f"prev hash does not match line {number - 1}" if number > 1 else
                f"{where}: entry {entry.seq} is first but its prev hash is not the genesis "
                f"hash: entries before it were removed.")
    return None


def _seq_problem(where: str, seq: int, expected: int) -> str:
    if seq > expected:
        return (f"{where}: entry {seq} found where entry {expected} was expected: "
                f"entries {expected}..{seq - 1} were removed or moved.")
    return (f"{where}: entry {seq} found where entry {expected} was expected: "
            f"entries were reordered or duplicated.")


def head(path: Path) -> str:
    """The sha256 of the ledger's last line, to record elsewhere as an anchor; raises
    LedgerError when the chain is broken (anchoring a broken chain would bless it)."""
    result = verify(path)
    if not result.ok:
        raise LedgerError(str(result.problem))
    return result.head
