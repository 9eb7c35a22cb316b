"""Write a scenario as a complete project: targeting.yaml, rules/, queries/, lists/, the three
tables, README.md and scenario.json (the facts, computed from the history just drawn)."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from targeting.errors import ConfigError
from targeting.files import write_atomic
from targeting.generate.facts import summarise
from targeting.generate.history import DEFAULT_START, month_starts, write_history
from targeting.generate.readme import render_readme
from targeting.generate.scenarios import get_scenario
from targeting.generate.world import Scenario
from targeting.rules.loader import load_rules

PRIORITIES = ("health_safety", "national_security", "repeat_violators", "automotive_parts",
              "transshipment_hk")
OWNED = {"rules": ("*.yaml", "*.yml"), "queries": ("*.yaml", "*.yml"), "lists": ("*.txt",)}
CONFIG = """\
# A synthetic project written by `targeting fixtures generate --scenario {name}`.
# Every path is relative to this folder, so the folder can be moved.
data:
  manifest: manifest.parquet
  exams: exams.parquet
lists: lists
rules: [rules]
queries: [queries]
priorities: [{priorities}]
"""


@dataclass(frozen=True)
class Written:
    """What generate_project wrote: rows per table and the scenario's facts."""

    counts: dict[str, int]
    facts: dict[str, Any]


def generate_project(name: str, out: Path | str, shipments: int = 200_000, months: int = 24,
                     seed: int = 20241001, start: dt.date = DEFAULT_START,
                     rule_dirs: Sequence[Path] | None = None, force: bool = False) -> Written:
    """Write scenario `name` into `out` as a project `targeting evaluate` runs on.

    The default scenario copies the repository's rules and queries (`rule_dirs`: the UDR folder
    then the query folder; by default ./rules and ./queries); the others write their own."""
    scenario = get_scenario(name)
    out = Path(out)
    _prepare(out, force)
    _write_rules(scenario, out, start, months, rule_dirs)
    rules = load_rules([out / "rules", out / "queries"])
    dynamics = scenario.dynamics(start, months)
    counts, tally = write_history(scenario.world, rules, out, shipments, months, seed, start,
                                  dynamics)
    dynamics.finish(out)
    facts = {"scenario": scenario.name, "summary": scenario.summary, "shipments": shipments,
             "months": months, "seed": seed, "start": start.isoformat(),
             **summarise(tally, rules, month_starts(start, months))}
    dynamics.revise(out, facts)
    facts["facts"] = dynamics.facts(out, facts)
    write_atomic(out / "targeting.yaml", CONFIG.format(name=scenario.name,
                                                       priorities=", ".join(PRIORITIES)))
    write_atomic(out / "scenario.json", json.dumps(facts, indent=2) + "\n")
    write_atomic(out / "README.md", render_readme(scenario, facts))
    return Written(counts, facts)


def _prepare(out: Path, force: bool) -> None:
    """Refuse a folder with other things in it, unless forced; then clear the files a scenario
    owns (rule files, list files), so none from an earlier scenario linger."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; --out needs a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} is not empty; choose an empty folder, or pass --force to "
                          f"replace the scenario's files in it")
    for folder, patterns in OWNED.items():
        for pattern in patterns:
            for path in sorted((out / folder).rglob(pattern)):
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _write_rules(scenario: Scenario, out: Path, start: dt.date, months: int,
                 rule_dirs: Sequence[Path] | None) -> None:
    if scenario.rules is None:
        _copy_rules(out, rule_dirs or (Path("rules"), Path("queries")))
        return
    for spec in scenario.rules(start, months):
        write_atomic(out / spec.folder / spec.filename, spec.to_yaml())


def _copy_rules(out: Path, rule_dirs: Sequence[Path]) -> None:
    """The repository's rule folders, byte for byte: the first to rules/, the second to queries/."""
    if len(rule_dirs) != 2 or not all(Path(d).is_dir() for d in rule_dirs):
        raise ConfigError("the default scenario copies the repository's rules/ and queries/ "
                          "folders; run it from the repository root, or name them with --rules "
                          "and --queries")
    for source, folder in zip(rule_dirs, ("rules", "queries")):
        for path in sorted(p for p in Path(source).rglob("*") if p.suffix in (".yaml", ".yml")):
            write_atomic(out / folder / path.relative_to(source), path.read_bytes())

