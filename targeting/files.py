"""Writing files atomically: through a temporary file in the same folder, then os.replace."""
from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

FAULT_ENV = "TARGETING_FAULT"


def temp_beside(path: Path, suffix: str = "") -> tuple[int, str]:
    """An open temporary file next to `path`, with the permissions a new file normally gets
    (mkstemp makes it 0600, which a rule file or report must not end up with)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` so no reader ever sees half a file; text is written as given
    (no newline translation)."""
    fd, tmp = temp_beside(Path(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------ writes under the project lock

def locked_temp(path: Path) -> Path:
    """The one temporary name used for `path` by a writer that holds the project lock: fixed, so
    a writer killed before its rename leaves a file that the next one knows to remove."""
    path = Path(path)
    return path.with_name(f".{path.name}.targeting-tmp")


def write_temp(path: Path, data: bytes) -> Path:
    """Write `data` durably to `path`'s locked temporary file (caller holds the project lock)."""
    tmp = locked_temp(path)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # umask applies
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def replace_durably(path: Path, data: bytes) -> None:
    """Write through the locked temporary file, rename it over `path`, fsync the folder."""
    tmp = write_temp(path, data)
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


def remove_durably(path: Path) -> None:
    """Delete `path` (if there) and make the deletion durable."""
    if Path(path).exists():
        Path(path).unlink()
        fsync_dir(Path(path).parent)


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a new, renamed or deleted file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (os.write may write fewer than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fault_point(step: str) -> None:
    """A test hook: when TARGETING_FAULT names this step, the process kills itself here with
    SIGKILL (no cleanup runs), so tests can check that the next command recovers."""
    if os.environ.get(FAULT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
