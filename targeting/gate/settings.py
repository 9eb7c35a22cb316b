"""The `gate:` settings (typed in targeting/data/settings.py, parsed when the project loads)."""
from __future__ import annotations

from typing import Any

from targeting.data.settings import GateSettings, parse_settings

DEFAULTS: dict[str, Any] = GateSettings().values


def load_settings(section: GateSettings | dict[str, Any] | None,
                  source: str = "targeting.yaml") -> GateSettings:
    """A project's gate settings, or a section given as a mapping (defaults overlaid)."""
    if isinstance(section, GateSettings):
        return section
    return parse_settings(GateSettings, section, source, "gate")
