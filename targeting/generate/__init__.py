"""Synthetic shipment histories with planted (hidden) truth, for demos and tests.

`generate_project(scenario, out, ...)` writes a complete project (targeting.yaml, rules/,
queries/, lists/, manifest, exams, truth, README.md, scenario.json); `generate(...)` writes only
the data of the default world, with the given rules selecting exams. The same arguments give the
same bytes; work is done one month at a time, so memory is bounded by the largest month.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from targeting.generate.history import DEFAULT_START, SEASON, write_history
from targeting.generate.patterns import PATTERNS, patterns_table
from targeting.generate.project import Written, generate_project
from targeting.generate.scenarios import SCENARIOS, get_scenario
from targeting.generate.world import Dynamics
from targeting.rules.loader import load_rules

__all__ = ["DEFAULT_START", "PATTERNS", "SCENARIOS", "SEASON", "Written", "generate",
           "generate_project", "patterns_table"]


def generate(shipments: int, months: int, seed: int, out: Path | str,
             start: dt.date = DEFAULT_START,
             rule_paths: Iterable[Path | str] = ()) -> dict[str, int]:
    """Write the default world's data (manifest, exams, truth, lists/) into `out`, with the rules
    under `rule_paths` selecting exams; return row counts per table."""
    out = Path(out)
    rules = load_rules([Path(p) for p in rule_paths]) if rule_paths else []
    counts, _ = write_history(get_scenario("default").world, rules, out, shipments, months, seed,
                              start, Dynamics())
    return counts
