"""targeting: measure customs targeting rules and decide which to promote or retire.

The library API (each function returns data: Polars DataFrames or dataclasses)::

    import targeting
    board = targeting.evaluate(since="2025-01-01")     # the scoreboard
    report = targeting.test("Q-4701-0012")             # one rule, with its verdict
    review = targeting.candidates()                    # promotion and retirement proposals
    cov = targeting.coverage(last="12m")               # who found the discrepant shipments
    past = targeting.replay(every="3m")                # how the policy would have done

The names load on first use, so the command line does not pay for the whole library at start-up.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from targeting._version import __version__

if TYPE_CHECKING:
    from targeting.api import candidates, coverage, evaluate, load_rules, replay, test
    from targeting.backtest.window import Window
    from targeting.errors import Problem
    from targeting.project import open_project
    from targeting.rules.model import Rule

# name -> module that defines it
_API = {
    "open_project": "targeting.project",
    "evaluate": "targeting.api",
    "test": "targeting.api",
    "candidates": "targeting.api",
    "coverage": "targeting.api",
    "replay": "targeting.api",
    "load_rules": "targeting.api",
    "Window": "targeting.backtest.window",
    "Rule": "targeting.rules.model",
    "Problem": "targeting.errors",
}

__all__ = ["Problem", "Rule", "Window", "__version__", "candidates", "coverage", "evaluate",
           "load_rules", "open_project", "replay", "test"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'targeting' has no attribute {name!r}")
