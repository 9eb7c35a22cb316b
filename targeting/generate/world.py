"""A scenario's world: its causes of violation, manifest injections, exams and recording, and
the state it keeps across months (who moved after enforcement, what hindsight built)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from targeting.generate.exams import Recording
from targeting.generate.manifest import Columns, Injection, Month
from targeting.generate.patterns import Causes
from targeting.generate.rulefiles import RuleSpec
from targeting.generate.selection import Selection
from targeting.generate.truth import Truth, TruthSettings
from targeting.rules.model import Rule


@dataclass(frozen=True)
class World:
    """Everything fixed about how a scenario's history is drawn."""

    causes: Causes
    injections: tuple[Injection, ...] = ()
    truth: TruthSettings = field(default_factory=TruthSettings)
    selection: Selection = field(default_factory=Selection)
    recording: Recording = field(default_factory=Recording)


@dataclass(frozen=True)
class Seen:
    """One month part as it came out: manifest, truth, who selected what, the exams."""

    month: Month
    manifest: pl.DataFrame
    importer: np.ndarray
    truth: Truth
    method: np.ndarray
    selector_id: np.ndarray
    matches: Mapping[str, np.ndarray]   # rule id -> matches on any date
    exams: pl.DataFrame


class Dynamics:
    """State a scenario keeps across months. This default keeps none."""

    def inject(self, rng: np.random.Generator, cols: Columns, month: Month) -> None:
        """Rewrite some of a month's rows according to the state (after the fixed injections)."""

    def observe(self, seen: Seen) -> None:
        """Update the state from what happened in a month part."""

    def lists(self, month: Month) -> Mapping[str, frozenset[str]]:
        """Lists that exist only through the history (normalised values), as known in `month`."""
        return {}

    def schedule(self, rule: Rule, month: Month) -> tuple[dt.date | None, bool] | None:
        """(the date a rule really starts selecting, whether it selects in `month`), or None for
        the rule's own created date and status."""
        return None

    def finish(self, out: Path) -> None:
        """Write what the history left behind (lists built from it) into the project."""

    def revise(self, out: Path, summary: dict[str, Any]) -> None:
        """Correct rule facts the month-by-month tally could not know (a list known only later)."""

    def facts(self, out: Path, summary: Mapping[str, Any]) -> dict[str, Any]:
        """The scenario's own facts, from its state, the written files and the common facts."""
        return {}


@dataclass(frozen=True)
class Scenario:
    """A named world, its rules, and the facts it promises."""

    name: str
    summary: str
    story: str                                     # README paragraph: what is planted and why
    world: World
    rules: Callable[[dt.date, int], list[RuleSpec]] | None   # None: the repository's own
    dynamics: Callable[[dt.date, int], Dynamics] = lambda start, months: Dynamics()
