"""Rule files and the ledger changed together or not at all, even when the process is killed.

A writing command (`promote`, `retire`, `policy-change`):

1. takes the **project lock** (an exclusive flock on `ledger.jsonl.lock`) before it reads the
   rules or the ledger, so two commands never decide on the same state and ids are allocated
   under the lock;
2. **recovers** what an interrupted command left (below);
3. computes every new file and the exact ledger bytes, and writes them, with each file's old
   content, into the **intent** record `ledger.jsonl.intent` (fsynced, renamed into place);
4. replaces each file (a fixed-name temporary file, fsync, rename), then appends the ledger
   bytes;
5. deletes the intent.

Recovery reads the intent. If the ledger ends with all of its bytes, the change happened; if
with part of them, the rest is appended (the files were all written before the ledger); either
way every file is set to its new content. If the ledger has none of them, every file is set
back to its old content. Then the fixed-name temporary files and the intent are removed. A kill
during recovery leaves the intent in place, so recovery simply runs again.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from targeting import files
from targeting.data.config import display_path
from targeting.decide import ledger
from targeting.errors import TargetingError

INTENT_NAME = ledger.LEDGER_NAME + ".intent"
INTENT_VERSION = 1


class TransactionError(TargetingError):
    """An interrupted change cannot be completed or undone automatically (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class Recovered:
    """What `recover` did about an interrupted command."""

    action: str
    subject: str
    outcome: str  # "completed" or "rolled back"
    files: list[str]

    def describe(self) -> str:
        return (f"an interrupted `{self.action}` of {self.subject} was {self.outcome}"
                f" ({', '.join(self.files) or 'ledger only'})")


def intent_path(root: Path) -> Path:
    return Path(root) / INTENT_NAME


def pending(root: Path) -> bool:
    """Whether an interrupted command left a change half made (run `targeting ledger recover`)."""
    return intent_path(root).exists()


@contextmanager
def project_lock(root: Path) -> Iterator[Recovered | None]:
    """Hold the project lock, recovering first from any interrupted command; yields what the
    recovery did (None when there was nothing to recover)."""
    with ledger.exclusive(Path(root) / ledger.LEDGER_NAME):
        files.fault_point("lock")
        yield recover(Path(root))


def commit(root: Path, action: str, subject: str, changes: dict[Path, bytes],
           records: list[dict[str, Any]], signer: ledger.Signer | None = None,
           now: datetime | None = None) -> list[ledger.Entry]:
    """Write `changes` (path -> new bytes) and append `records` to the ledger as one
    transaction (entries stamped `now`, default the clock); the caller holds
    `project_lock(root)`."""
    root = Path(root)
    book = root / ledger.LEDGER_NAME
    data, entries = ledger.prepare(book, records, now, signer)
    before = book.read_bytes() if book.exists() else b""
    intent = {"version": INTENT_VERSION, "action": action, "subject": subject,
              "ledger": {"size": len(before), "prefix_sha256": _sha(before), "append": _b64(data)},
              "files": [{"path": _rel(root, path), "before": _b64(_read(path)), "after": _b64(new)}
                        for path, new in changes.items()]}
    files.replace_durably(intent_path(root), json.dumps(intent, sort_keys=True).encode())
    files.fault_point("intent")
    try:
        _apply(book, changes, data)
    except BaseException:
        recover(root)  # a failed write (disk full) is undone here, not by the next command
        raise
    files.remove_durably(intent_path(root))
    return entries


def _apply(book: Path, changes: dict[Path, bytes], data: bytes) -> None:
    """Each file through its temporary file, then the ledger bytes: the order recovery relies on."""
    for number, (path, new) in enumerate(changes.items(), start=1):
        temp = files.write_temp(path, new)
        files.fault_point(f"temp-{number}")
        os.replace(temp, path)
        files.fsync_dir(path.parent)
        files.fault_point(f"rename-{number}")
    half = len(data) // 2  # two writes, so a test can kill between them (a torn append)
    ledger.write(book, data[:half])
    files.fault_point("ledger-half")
    ledger.write(book, data[half:])
    files.fault_point("ledger")


def recover(root: Path) -> Recovered | None:
    """Complete or undo the change an interrupted command left (see the module docstring);
    the caller holds the project lock. None when nothing was pending."""
    root = Path(root)
    path = intent_path(root)
    files.locked_temp(path).unlink(missing_ok=True)  # killed while writing the intent: no change
    if not path.exists():
        return None
    intent = _load(path)
    completed = _settle_ledger(root, intent)
    target = "after" if completed else "before"
    touched = []
    for item in intent["files"]:
        file = root / item["path"]
        if _set(file, _bytes(item[target]), {_bytes(item["before"]), _bytes(item["after"])}):
            touched.append(item["path"])
        files.locked_temp(file).unlink(missing_ok=True)
    files.remove_durably(path)
    return Recovered(intent["action"], intent["subject"],
                     "completed" if completed else "rolled back", touched)


def _settle_ledger(root: Path, intent: dict[str, Any]) -> bool:
    """True when the intent's entries are (now) all in the ledger, False when none are."""
    book = root / ledger.LEDGER_NAME
    data = book.read_bytes() if book.exists() else b""
    size, append = intent["ledger"]["size"], _bytes(intent["ledger"]["append"]) or b""
    shown = display_path(book)
    if len(data) < size or _sha(data[:size]) != intent["ledger"]["prefix_sha256"]:
        raise TransactionError(f"{shown} changed under an interrupted `{intent['action']}` "
                               f"(its earlier lines differ from when it began): restore the "
                               f"ledger from version control, then run `targeting ledger recover`")
    tail = data[size:]
    if tail == append:
        return True
    if tail and append.startswith(tail):  # a torn append: the files were all written already
        ledger.write(book, append[len(tail):])
        return True
    if not tail:
        return False
    raise TransactionError(f"{shown} has lines after an interrupted `{intent['action']}` that it "
                           f"did not write; resolve by hand (see {INTENT_NAME})")


def _set(path: Path, want: bytes | None, known: set[bytes | None]) -> bool:
    """Give `path` the content `want` (None: no file); True if it changed. Refuses to overwrite
    content that is neither the old nor the new one (a person edited it since)."""
    current = _read(path)
    if current == want:
        return False
    if current not in known:
        raise TransactionError(f"{display_path(path)} was edited after an interrupted command "
                               f"changed it; resolve it by hand (see {INTENT_NAME}), then delete "
                               f"the intent")
    if want is None:
        files.remove_durably(path)
    else:
        files.replace_durably(path, want)
    return True


def _load(path: Path) -> dict[str, Any]:
    try:
        intent = json.loads(path.read_bytes())
        if intent.get("version") != INTENT_VERSION:
            raise ValueError(f"version {intent.get('version')!r}")
        return dict(intent)
    except (ValueError, AttributeError) as exc:
        raise TransactionError(f"{display_path(path)} cannot be read ({exc}); it records an "
                               f"interrupted change: resolve it by hand") from exc


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rel(root: Path, path: Path) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(root))
