"""The audit ledger: an append-only, hash-chained JSON Lines record of promotions,
retirements and overrides, so a figure changed by hand leaves a trace."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from targeting import files
from targeting.data.config import display_path
from targeting.errors import TargetingError

LEDGER_NAME = "ledger.jsonl"
GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor", "action", "subject", "details", "evidence_digest", "prev", "hash")
OPTIONAL = ("sig",)  # a signature of `hash` (decide/signing.py); outside the hash, inside prev
_TYPES: dict[str, tuple[type, ...]] = {
    "seq": (int,), "at": (str,), "actor": (str,), "action": (str,), "subject": (str,),
    "details": (dict,), "evidence_digest": (str, type(None)), "prev": (str,), "hash": (str,),
    "sig": (dict,),
}
# Signs an entry: (its hash, its actor) -> the `sig` object.
Signer = Callable[[str, str], dict[str, Any]]
# Checks a recorded entry's signature: the problem, or None.
SignatureCheck = Callable[["Entry"], "str | None"]
# Lock files this process holds exclusively (a transaction appends under its own lock).
_HELD: dict[str, int] = {}


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
    sig: dict[str, Any] | None = field(default=None, hash=False)

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        if document["sig"] is None:  # an unsigned line has no `sig` key at all
            del document["sig"]
        return document


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
    """The `hash` field: sha256 of the entry's canonical JSON without `hash` itself (and without
    `sig`, which signs the hash)."""
    body = {key: value for key, value in document.items() if key not in ("hash", "sig")}
    return sha256(canonical(body).encode("utf-8"))


def utc_stamp(now: datetime | None = None) -> str:
    """UTC ISO-8601 with a Z, to the second."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("append(now=...) needs a timezone-aware datetime, e.g. with tzinfo=UTC")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------- writing

def append(path: Path, *, actor: str, action: str, subject: str, details: dict[str, Any],
           evidence_digest: str | None = None, now: datetime | None = None,
           signer: Signer | None = None) -> Entry:
    """Append one entry under an exclusive lock and return it; the file is never rewritten."""
    return append_many(path, [{"actor": actor, "action": action, "subject": subject,
                               "details": details, "evidence_digest": evidence_digest}], now,
                       signer)[-1]


def append_many(path: Path, records: list[dict[str, Any]], now: datetime | None = None,
                signer: Signer | None = None) -> list[Entry]:
    """Append several entries (dicts of actor, action, subject, details, evidence_digest) as one
    write under one lock: all of them are recorded or, on a crash, a partial last line remains
    that verify reports. An override and the promotion it allows go in together this way."""
    path = Path(path)
    documents = _documents(path, records, now)
    with exclusive(path):
        data, entries = _chain(path, documents, signer)
        _append_line(path, data)
    return entries


def prepare(path: Path, records: list[dict[str, Any]], now: datetime | None = None,
            signer: Signer | None = None) -> tuple[bytes, list[Entry]]:
    """The exact bytes that would append `records` to the ledger as it is now, and the entries
    they hold, without writing them: a transaction records them in its intent first. The
    caller holds `exclusive(path)`, so nothing else can be appended in between."""
    path = Path(path)
    if _key(path) not in _HELD:
        raise LedgerError("ledger.prepare needs the ledger's exclusive lock (ledger.exclusive)")
    return _chain(path, _documents(path, records, now), signer)


def write(path: Path, data: bytes) -> None:
    """Append prepared bytes (see `prepare`) at the end of the ledger, and fsync."""
    _append_line(Path(path), data)


def _documents(path: Path, records: list[dict[str, Any]], now: datetime | None) -> list[dict[str, Any]]:
    """The new entries, checked, before they are numbered and chained."""
    documents = []
    for record in records:
        document = {"seq": 0, "at": utc_stamp(now), "actor": record["actor"],
                    "action": record["action"], "subject": record["subject"],
                    "details": record["details"], "evidence_digest": record.get("evidence_digest"),
                    "prev": GENESIS}
        _check_types(document, path, None)
        _encode(document, path)  # refuse unserialisable details before touching the file
        documents.append(document)
    return documents


def _chain(path: Path, documents: list[dict[str, Any]], signer: Signer | None
           ) -> tuple[bytes, list[Entry]]:
    """Number and chain the documents after the ledger's last line (the caller holds the lock)."""
    lines = []
    last_seq, head = _tail(path)
    for document in documents:
        document.update(seq=last_seq + 1, prev=head)
        document["hash"] = content_hash(document)
        if signer is not None:
            document["sig"] = signer(document["hash"], document["actor"])
        line = _encode(document, path)
        lines.append(line)
        last_seq, head = document["seq"], sha256(line.rstrip(b"\n"))
    # Built from the bytes to be stored, so the caller sees exactly what is recorded (a copy).
    return b"".join(lines), [Entry(**json.loads(line)) for line in lines]


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the ledger's lock exclusively. Re-entrant within a process: a transaction holds it
    from before it reads the project until its ledger entries are written, and the appends,
    reads and recovery it makes meanwhile do not wait for themselves."""
    key = _key(Path(path))
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    with _locked(Path(path)):
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]


def _key(path: Path) -> str:
    return os.path.realpath(path.with_name(path.name + ".lock"))


@contextmanager
def _locked(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold a flock on the sibling `<name>.lock` file: writers take it exclusively, so two
    promotions queue up instead of both chaining to the same last line; readers take it shared,
    so they never see a half-written line. A reader that cannot create the lock file (a
    read-only checkout) reads without it."""
    lock = path.with_name(path.name + ".lock")
    if _key(path) in _HELD:  # this process holds it exclusively already (a transaction)
        yield
        return
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
        files.write_all(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        files.fsync_dir(path.parent)  # the new file's directory entry, durable too


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
    unknown = sorted(set(document) - set(FIELDS) - set(OPTIONAL))
    if missing or unknown:
        raise LedgerError(f"{where}: entry has missing fields {missing} or unknown fields "
                          f"{unknown}; expected exactly {list(FIELDS)} (and an optional signature, sig).")
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


def parse_bytes(path: Path, data: bytes) -> list[Entry]:
    """The entries of a ledger's content given as bytes (`path` names it in messages)."""
    return [_parse(raw, Path(path), number) for number, raw, _ in _split(data)]


def find(path: Path, *, action: str, subject: str) -> list[Entry]:
    """Entries recording `action` on rule `subject`, oldest first."""
    return [e for e in read(path) if e.action == action and e.subject == subject]


# ---------------------------------------------------------------------------------- verifying

def verify(path: Path, anchor: str | None = None,
           signatures: SignatureCheck | None = None) -> VerifyResult:
    """Check every line: complete, canonical, its own hash, seq one more than the line before,
    prev equal to the sha256 of the line before, and (with `signatures`) its signature. Stops
    at the first bad line. With `anchor` (a head recorded earlier), also require that line to
    be still in the chain."""
    path = Path(path)
    return verify_lines(path, _lines(path), anchor, signatures)


def verify_bytes(path: Path, data: bytes, signatures: SignatureCheck | None = None) -> VerifyResult:
    """`verify` of a ledger's content given as bytes (another revision's, read from git);
    `path` only names it in messages."""
    return verify_lines(Path(path), _split(data), None, signatures)


def verify_lines(path: Path, lines: list[tuple[int, bytes, bool]], anchor: str | None,
                 signatures: SignatureCheck | None) -> VerifyResult:
    head, seen, count = GENESIS, {GENESIS}, 0
    for number, raw, complete in lines:
        problem = _line_problem(path, number, raw, complete, count, head, signatures)
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
                  prev_head: str, signatures: SignatureCheck | None = None) -> str | None:
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
    problem = signatures(entry) if signatures is not None else None
    return f"{where}: entry {entry.seq}: {problem}" if problem else None


def _seq_problem(where: str, seq: int, expected: int) -> str:
    if seq > expected:
        return (f"{where}: entry {seq} found where entry {expected} was expected: "
                f"entries {expected}..{seq - 1} were removed or moved.")
    return (f"{where}: entry {seq} found where entry {expected} was expected: "
            f"entries were reordered or duplicated.")


def head(path: Path, signatures: SignatureCheck | None = None) -> str:
    """The sha256 of the ledger's last line, to record elsewhere as an anchor; raises
    LedgerError when the chain is broken (anchoring a broken chain would bless it)."""
    result = verify(path, signatures=signatures)
    if not result.ok:
        raise LedgerError(str(result.problem))
    return result.head
