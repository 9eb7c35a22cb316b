"""One canonical JSON spelling and its hash, for everything the tool hashes or chains: policy
and settings hashes, cache keys, data fingerprints, evidence digests and ledger lines.

Keys are sorted and written as text (YAML allows `1:` and `"1":` side by side, which plain
`json.dumps(sort_keys=True)` cannot sort), dates are ISO strings, and NaN is refused, so equal
content always hashes equally.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """The one JSON spelling of `value`: sorted text keys, no spaces, UTF-8, no NaN."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def digest(value: Any) -> str:
    """sha256 (hex) of `value`'s canonical JSON."""
    return sha256(canonical_json(value).encode("utf-8"))


def sha256(data: bytes) -> str:
    """sha256 (hex) of bytes."""
    return hashlib.sha256(data).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):  # YAML's `true:` key reads as True; data values compare as text
        return str(key).lower()
    return key if isinstance(key, str) else str(key)
