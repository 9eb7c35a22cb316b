"""targeting: measure customs targeting rules and decide which to promote or retire.

`targeting.evaluate(...)` and `targeting.coverage(...)` return Polars DataFrames. (They share
their names with the modules that define them; import other names from those modules with
`from targeting.evaluate import backtest`.)
"""
from __future__ import annotations

__version__ = "0.1.0"

from .coverage import coverage
from .evaluate import evaluate

__all__ = ["__version__", "coverage", "evaluate"]
