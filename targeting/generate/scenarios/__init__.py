"""The named scenarios `targeting fixtures generate --scenario NAME` can write."""
from __future__ import annotations

from targeting.errors import ConfigError
from targeting.generate.scenarios import audit, default, drift, marginal, snooped
from targeting.generate.world import Scenario

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (default.SCENARIO, marginal.SCENARIO, snooped.SCENARIO, audit.SCENARIO,
                        drift.SCENARIO)}


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`; ConfigError (exit 2) naming the known ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; expected one of "
                          f"{', '.join(SCENARIOS)}") from None
