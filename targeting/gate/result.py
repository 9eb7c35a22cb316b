"""What the gate found: a check per rule and concern, and the rules the branch changed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from targeting.backtest.window import Window

METRICS = ("targeted", "examined", "discrepant", "flags_per_day", "hit_rate", "hit_rate_low",
           "hit_rate_high", "lift", "unique_discrepant", "est_hit_rate", "est_hit_rate_low",
           "est_hit_rate_high", "est_method", "est_examined", "est_lift")


@dataclass(frozen=True)
class Check:
    """One check of one rule (or of the project, rule "ledger"): pass, fail or warn."""

    rule: str
    name: str
    outcome: str
    message: str
    path: str | None = None
    line: int | None = None


@dataclass
class RuleChange:
    """A rule the branch added, changed or removed, with its metrics before and after."""

    id: str
    kind: str
    change: str
    path: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # A changed rule: shipments it newly targets / no longer targets, each with how many were
    # ever examined and found discrepant (GateContext.differences).
    targets: dict[str, dict[str, int]] | None = None


@dataclass
class GateResult:
    base_ref: str
    base: str
    window: Window | None
    baseline_hit_rate: float | None
    fail_on_warnings: bool
    changes: list[RuleChange] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == "fail"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == "warn"]

    @property
    def passed(self) -> bool:
        return not self.failures and not (self.fail_on_warnings and self.warnings)
