"""What `promote --dry-run` and `retire --dry-run` would do: each file in full (a new one) or as
a diff (a changed one), then the ledger records it would append. Nothing is written."""
from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from targeting.render.escape import plain


def dry_run_text(change: Any, ledger: Path) -> str:
    """The files and ledger records of a dry-run Change, for the terminal."""
    parts = []
    for path, text in change.texts.items():
        shown = plain(_shown(path))
        if not path.exists():
            parts.append(f"--- would write {shown} (new file):\n{plain(text)}")
            continue
        old = path.read_bytes().decode("utf-8")
        diff = difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                    f"{shown} (now)", f"{shown} (after)")
        parts.append(f"--- would change {shown}:\n{plain(''.join(diff))}")
    records = "\n".join(json.dumps(r, ensure_ascii=False, sort_keys=True, default=str)
                        for r in change.records)
    parts.append(f"--- would append to {plain(_shown(ledger))} (hash chain, time and signature "
                 f"added when written):\n{plain(records)}")
    parts.append("dry run: nothing was written")
    return "\n".join(parts)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
