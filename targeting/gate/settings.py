"""The `gate:` section of targeting.yaml: tolerances for `targeting gate`, with defaults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from targeting.errors import ConfigError
from targeting.rules.loader import did_you_mean

# Documented in docs/gate.md; a change to a default is a change to every project's gate.
DEFAULTS: dict[str, Any] = {
    "max_lower_bound_drop": 0.02,  # absolute fall of the hit rate's Wilson lower bound allowed
    "max_workload_growth": 0.25,   # relative growth of flags per day allowed (0.25 = +25 %)
    "fail_on_warnings": False,     # whether warnings fail the gate (overridden by the CLI flag)
    "last": None,                  # backtest only the last period of the data, e.g. "12m"
}


@dataclass(frozen=True)
class GateSettings:
    max_lower_bound_drop: float = DEFAULTS["max_lower_bound_drop"]
    max_workload_growth: float = DEFAULTS["max_workload_growth"]
    fail_on_warnings: bool = DEFAULTS["fail_on_warnings"]
    last: str | None = DEFAULTS["last"]


def load_settings(section: dict[str, Any] | None, source: str = "targeting.yaml") -> GateSettings:
    """Defaults overlaid with the config's `gate:` section; ConfigError (exit 2) on bad keys."""
    section = section or {}
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in DEFAULTS:
            raise ConfigError(f"{source}: gate.{key} is not a gate setting; expected one of "
                              f"{', '.join(DEFAULTS)}{did_you_mean(str(key), DEFAULTS)}")
        values[key] = _checked(key, value, source)
    return GateSettings(**values)


def _checked(key: str, value: Any, source: str) -> Any:
    if key == "fail_on_warnings":
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: gate.fail_on_warnings must be true or false; got {value!r}")
        return value
    if key == "last":
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{source}: gate.last must be a period such as 12m, 90d or 2y; "
                              f"got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{source}: gate.{key} must be a non-negative number; got {value!r}")
    if key == "max_lower_bound_drop" and value > 1:
        raise ConfigError(f"{source}: gate.max_lower_bound_drop is an absolute hit-rate difference "
                          f"between 0 and 1 (0.02 = two percentage points); got {value!r}")
    return float(value)
