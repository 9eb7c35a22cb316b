"""An on-disk cache of JSON results under `<project root>/.targeting-cache/`.

Entries are JSON files named by the sha256 of their key (the rule's content hash, the data
fingerprint, the window, the tool version, ...), so a changed input simply misses. The folder
can be deleted at any time; an unreadable or mismatched entry counts as a miss and is rewritten.
Writes go through a temporary file in the same folder and os.replace, so a reader never sees
half an entry.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from targeting._version import __version__
from targeting.canonical import digest
from targeting.files import write_atomic

CACHE_DIR = ".targeting-cache"


def cache_key(**parts: Any) -> str:
    """sha256 of the parts' canonical JSON plus the tool version (new code, new results)."""
    return digest({**parts, "tool_version": __version__})


class Cache:
    """get/put JSON values by (kind, key); disabled, it stores nothing and always misses."""

    def __init__(self, root: Path, enabled: bool = True):
        self.folder = Path(root) / CACHE_DIR
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def _path(self, kind: str, key: str) -> Path:
        return self.folder / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str) -> Any | None:
        if not self.enabled:
            return None
        try:
            entry = json.loads(self._path(kind, key).read_text(encoding="utf-8"))
            if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
                raise ValueError("not an entry for this key")
        except (OSError, ValueError, UnicodeDecodeError):
            self.misses += 1
            return None
        self.hits += 1
        return entry["value"]

    def put(self, kind: str, key: str, value: Any) -> None:
        if not self.enabled:
            return
        path = self._path(kind, key)
        text = json.dumps({"key": key, "value": value}, sort_keys=True, default=str)
        # A read-only checkout still gets correct (uncached) results.
        with contextlib.suppress(OSError):
            write_atomic(path, text)
