"""The hidden truth of each shipment: does it violate, would an exam find it, how suspicious it
looks on arrival.

The estimand. An exam's type follows from the mode (known at arrival) and each type finds a
violation with its own probability. `would_be_found` (violating and detected) is drawn for every
shipment, examined or not, and an examined shipment's result is exactly its would_be_found; so a
rule's true precision is the mean of would_be_found over everything it matches.

Exact planting. Shipments with the same pattern, violation probability and exam type form a
stratum. Each month a stratum gets the expected number of would-be-found violations
(n x p x detection) rounded, with the remainder carried to the next month (systematic
rounding), chosen uniformly among its rows; then, among the rest, the expected number of
violations an exam would miss (n x p x (1 - detection)), the same way. So over a history a
pattern's realised would-be-found rate equals its planted rate to within one shipment, even in
a small history, while which shipments violate stays random and each has probability p. (A
subset of a stratum, such as an importer list, still varies by chance.)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from targeting.errors import ConfigError
from targeting.generate.patterns import Pattern

EXAM_TYPES = ("physical", "xray", "container")   # the exam each mode gets: express, mail, cargo
DETECTION: Mapping[str, float] = {"physical": 0.92, "xray": 0.85, "container": 0.75}
SIGNAL = 1.5   # a violator's suspicion score sits this many standard deviations higher
MAX_RATIO_LOAD = 0.9   # ratio patterns may not claim (nearly) the whole population's finds


@dataclass(frozen=True)
class TruthSettings:
    """How exams detect and how much an officer can see at arrival."""

    detection: Mapping[str, float] = field(default_factory=lambda: dict(DETECTION))
    signal: float = SIGNAL

    def by_mode(self) -> np.ndarray:
        """Detection probability per mode index."""
        return np.array([self.detection[t] for t in EXAM_TYPES])


@dataclass(frozen=True)
class Truth:
    """One month part's hidden truth, row for row with its manifest."""

    p: np.ndarray             # p_violation
    label: np.ndarray         # strongest pattern's name, or None (object)
    violating: np.ndarray
    found: np.ndarray         # would_be_found
    exam_type: np.ndarray     # index into EXAM_TYPES
    suspicion: np.ndarray     # the officer's impression at arrival

    def frame(self, shipment_id: pl.Series) -> pl.DataFrame:
        """The truth table's columns (selection_probability is added by the caller)."""
        return pl.DataFrame({
            "shipment_id": shipment_id,
            "violating": self.violating,
            "would_be_found": self.found,
            "pattern": pl.Series(self.label.tolist(), dtype=pl.String),
            "p_violation": self.p,
            "exam_type": np.array(EXAM_TYPES)[self.exam_type],
            "suspicion": self.suspicion,      # float32
        })


class Planter:
    """Exact per-stratum counts, carrying each stratum's rounding remainder across months."""

    def __init__(self) -> None:
        self.carry: dict[tuple[object, ...], float] = {}

    def draw(self, rng: np.random.Generator, group: np.ndarray, keys: Sequence[tuple[object, ...]],
             expected: np.ndarray) -> np.ndarray:
        """A mask choosing, uniformly within each group, its carried-rounded expected count."""
        counts = np.zeros(len(keys), dtype=np.int64)
        for g, key in enumerate(keys):
            total = self.carry.get(key, 0.5) + float(expected[g])  # start at 0.5: round to nearest
            counts[g] = int(np.floor(total + 1e-9))
            self.carry[key] = total - counts[g]
        return choose(rng, group, counts)


def choose(rng: np.random.Generator, group: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pick counts[g] rows uniformly at random from each group g (all of them if fewer)."""
    order = np.lexsort((rng.random(len(group)), group))
    ordered = group[order]
    starts = np.searchsorted(ordered, np.arange(len(counts)))
    rank = np.arange(len(group)) - starts[ordered]
    chosen = np.zeros(len(group), dtype=bool)
    chosen[order] = rank < counts[ordered]
    return chosen


def strata(label: np.ndarray, exam_type: np.ndarray, p: np.ndarray,
           ratio_names: frozenset[str]) -> tuple[np.ndarray, list[tuple[object, ...]]]:
    """Group id per row and each group's carry key (pattern, exam type, p). Ratio patterns'
    probability moves with the month, so their key leaves p out and the carry runs on."""
    names = sorted({x for x in label.tolist() if x is not None})
    label_code = pl.Series(label.tolist(), dtype=pl.String).replace_strict(
        {n: i + 1 for i, n in enumerate(names)}, default=0, return_dtype=pl.Int64).to_numpy()
    p_values, p_code = np.unique(p, return_inverse=True)
    combined = (label_code * len(EXAM_TYPES) + exam_type) * len(p_values) + p_code
    uniques, group = np.unique(combined, return_inverse=True)
    keys: list[tuple[object, ...]] = []
    for u in uniques.tolist():
        rest, pc = divmod(u, len(p_values))
        lc, et = divmod(rest, len(EXAM_TYPES))
        name = names[lc - 1] if lc else None
        keys.append((name, et, None if name in ratio_names else float(p_values[pc])))
    return group, keys


def plant_ratios(df: pl.DataFrame, p: np.ndarray, label: np.ndarray, detect: np.ndarray,
                 patterns: Sequence[Pattern]) -> None:
    """Set the rows of ratio patterns so each one's would-be-found rate is its ratio times the
    month's population rate (which those rows are part of): pop = base / (1 - sum share x ratio)."""
    ratio = [q for q in patterns if q.ratio is not None]
    if not ratio or not len(df):
        return
    masks = df.select([q.mask().alias(q.name) for q in ratio])
    taken = np.zeros(len(df), dtype=bool)
    segments = []
    for q in ratio:
        rows = masks[q.name].to_numpy() & ~taken   # first pattern wins where two overlap
        taken |= rows
        segments.append(rows)
    load = sum(float(q.ratio or 0.0) * rows.mean() for q, rows in zip(ratio, segments))
    if load >= MAX_RATIO_LOAD:
        raise ConfigError(f"ratio patterns cover too much of the population (load {load:.2f})")
    population = float((p * detect)[~taken].sum()) / len(df) / (1.0 - load)
    for q, rows in zip(ratio, segments):
        if rows.any():
            p[rows] = min(1.0, float(q.ratio or 0.0) * population / float(detect[rows].mean()))
            label[rows] = q.name


def draw_truth(rng: np.random.Generator, df: pl.DataFrame, mode: np.ndarray, p: np.ndarray,
               label: np.ndarray, patterns: Sequence[Pattern], settings: TruthSettings,
               planter: Planter) -> Truth:
    """Violating, would_be_found and suspicion for one month part, given each row's p_violation."""
    detect = settings.by_mode()[mode]
    plant_ratios(df, p, label, detect, patterns)
    ratio_names = frozenset(q.name for q in patterns if q.ratio is not None)
    group, keys = strata(label, mode, p, ratio_names)
    # Found first (its count is what precision measures, so it gets the single rounding), then
    # the violations an exam would miss, among the rest.
    found = planter.draw(rng, group, [("found", *k) for k in keys],
                         np.bincount(group, weights=p * detect, minlength=len(keys)))
    missed = planter.draw(rng, np.where(found, len(keys), group), [*keys, ("found",)],
                          np.append(np.bincount(group, weights=p * (1 - detect),
                                                minlength=len(keys)), 0.0))
    violating = found | missed
    # Held at single precision from the start: truth.parquet stores it in half the space and
    # the logged probabilities are still computed from exactly the stored value.
    suspicion = (settings.signal * violating + rng.standard_normal(len(df))).astype(np.float32)
    return Truth(p, label, violating, found, mode.astype(np.int64), suspicion)
