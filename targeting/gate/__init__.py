"""`targeting gate`: the CI check on a branch's rule and query changes (docs/gate.md)."""
from __future__ import annotations

from targeting.data.settings import GateSettings
from targeting.gate.changes import GateError
from targeting.gate.result import Check, GateResult, RuleChange
from targeting.gate.run import run_gate
from targeting.gate.settings import DEFAULTS, load_settings

__all__ = [
           "DEFAULTS",
           "Check",
           "GateError",
           "GateResult",
           "GateSettings",
           "RuleChange",
           "load_settings",
           "run_gate",
]
