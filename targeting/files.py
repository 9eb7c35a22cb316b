"""Writing files atomically: through a temporary file in the same folder, then os.replace."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
