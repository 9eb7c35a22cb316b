"""targeting: measure customs targeting rules and decide which to promote or retire.

The public library API; the names load on first use, so `targeting`'s command line does not
pay for the whole library at start-up.
"""
from __future__ import annotations

import importlib
from typing import Any

from targeting._version import __version__

# name -> module that defines it
_API = {
    "coverage": "targeting.api",
    "evaluate": "targeting.api",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'targeting' has no attribute {name!r}")
