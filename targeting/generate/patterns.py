"""The hidden truth's causes: planted violation patterns and each shipment's violation probability.

Each pattern is plain data (name, kind, description) plus a mask over manifest columns and a
probability that may change with the month, so tests and docs can name what was planted. A
pattern with a `ratio` is planted relative to the population instead: its shipments'
would-be-found rate is `ratio` times the month's population rate (truth.py solves for it).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from targeting.generate.catalogue import BAG_BRANDS, COUNTRIES, SHOE_BRANDS

KINDS = ("real_national", "real_local", "none", "decaying", "emerging", "marginal", "drifting")

# Shippers of the one-port network (they ship only to Miami, 5206); fixed so a query can name them.
NETWORK_SHIPPERS = ("SHP900001", "SHP900002", "SHP900003", "SHP900004", "SHP900005", "SHP900006")
NETWORK_PORT = "5206"
PEN_WORDS = ("WEIGHT LOSS PEN", "SEMAGLUTIDE PEN", "GLP-1 INJECTION PEN", "SLIMMING PEN",
             "SEMAGLUTlDE INJECTION")
BRAKE_BRANDS = ("BOSCH", "BREMBO", "AKEBONO")

BASE_RATE = 0.0030          # before country and mode multipliers
MODE_FACTOR = {"express": 1.0, "mail": 0.9, "cargo": 0.2}
TRUSTED_FACTOR = 0.3
REPEAT_BOOST = 0.10
REPEAT_PATTERN = "repeat_violators"


@dataclass(frozen=True)
class Pattern:
    """One planted pattern: who it touches and how likely those shipments violate."""

    name: str
    kind: str
    description: str
    mask: Callable[[], pl.Expr]
    probability: Callable[[int, int], float] = lambda m, n: 0.0   # (month, months) -> p
    ratio: float | None = None   # planted relative to the population (see module docstring)


def words(values: Sequence[str]) -> pl.Expr:
    """Description contains any of `values` (case-insensitive)."""
    return pl.col("description").str.contains_any(list(values), ascii_case_insensitive=True)


def _decay(month: int, months: int) -> float:
    # Strong at first, gone after two thirds of the history (month 16 of 24): violators moved
    # to other routes. Relative to the length, so a short history keeps the same story.
    return 0.40 * max(0.0, 1.0 - month / max(1, (2 * months) // 3))


def emerge_month(months: int) -> int:
    """The month (0-based) in which the emerging pattern appears: mid-history."""
    return months // 2


def _express_handbags() -> Pattern:
    return Pattern(
        "express_handbags", "real_national",
        "Low-value branded handbags from CN/HK by express, at every port",
        lambda: (pl.col("mode") == "express") & pl.col("country_of_origin").is_in(["CN", "HK"])
        & pl.col("hts_code").str.starts_with("4202") & words(BAG_BRANDS)
        & (pl.col("declared_value") < 800),
        lambda m, n: 0.35)


def _hk_watches() -> Pattern:
    return Pattern(
        "hk_watches", "real_national",
        "Chinese-made watches transshipped through Hong Kong by express or mail",
        lambda: pl.col("hts_code").str.starts_with("910")
        & (pl.col("country_of_export") == "HK") & (pl.col("country_of_origin") == "CN")
        & pl.col("mode").is_in(["express", "mail"]),
        lambda m, n: 0.35)


def _brake_pads() -> Pattern:
    return Pattern(
        "brake_pads", "real_national",
        "Branded brake pads made in China (counterfeit automotive parts), any mode",
        lambda: pl.col("hts_code").str.starts_with("870830")
        & (pl.col("country_of_origin") == "CN") & words(BRAKE_BRANDS),
        lambda m, n: 0.30)


def _miami_network() -> Pattern:
    return Pattern(
        "miami_network", "real_local",
        "A ring of six Turkish shippers sending perfume 'samples' through Miami (5206) only",
        lambda: pl.col("shipper_id").is_in(list(NETWORK_SHIPPERS)),
        lambda m, n: 0.40)


def _fishing_reels() -> Pattern:
    return Pattern(
        "fishing_reels", "none",
        "Fishing reels: an officer's personal interest; no more violations than the base rate",
        lambda: pl.col("hts_code") == "9507300000",
        lambda m, n: 0.0)


def _mail_sneakers() -> Pattern:
    return Pattern(
        "mail_sneakers", "decaying",
        "Branded sneakers from CN by mail; violators left this route, gone after 2/3 of the history",
        lambda: (pl.col("mode") == "mail") & (pl.col("country_of_origin") == "CN")
        & pl.col("hts_code").str.starts_with("640") & words(SHOE_BRANDS),
        _decay)


def _weight_loss_pens() -> Pattern:
    return Pattern(
        "weight_loss_pens", "emerging",
        "Unapproved weight-loss injection pens by express from CN/HK, from mid-history on",
        lambda: pl.col("hts_code").str.starts_with("3004") & words(PEN_WORDS),
        lambda m, n: 0.40 if m >= emerge_month(n) else 0.0)


PATTERNS: tuple[Pattern, ...] = (
    _express_handbags(), _hk_watches(), _brake_pads(), _miami_network(), _fishing_reels(),
    _mail_sneakers(), _weight_loss_pens(),
)
NATIONAL: tuple[Pattern, ...] = PATTERNS[:3]   # the three strong national signals
REPEAT_DESCRIPTION = "Importers who violate repeatedly (some listed in lists/repeat_violators.txt)"


def patterns_table(patterns: Sequence[Pattern] = PATTERNS, repeat: bool = True) -> pl.DataFrame:
    """The planted patterns as a table (name, kind, description)."""
    rows = [(p.name, p.kind, p.description) for p in patterns]
    if repeat:
        rows.append((REPEAT_PATTERN, "real_national", REPEAT_DESCRIPTION))
    return pl.DataFrame(rows, schema=["name", "kind", "description"], orient="row")


@dataclass(frozen=True)
class Causes:
    """What raises a shipment's chance of violating, beyond its country and mode."""

    patterns: tuple[Pattern, ...]
    base_rate: float = BASE_RATE
    repeat_boost: float = REPEAT_BOOST


def violation_probability(df: pl.DataFrame, month: int, months: int, repeat: np.ndarray,
                          trusted: np.ndarray, causes: Causes) -> tuple[np.ndarray, np.ndarray]:
    """Each row's p_violation and its strongest pattern's name (None where no pattern).

    Patterns planted by ratio are left out here (truth.py sets their rows' probability)."""
    keep = 1.0 - _base(df, trusted, causes.base_rate)
    best_p = np.zeros(len(df))
    best = np.full(len(df), None, dtype=object)
    labelled = np.zeros(len(df), dtype=bool)
    fixed = [p for p in causes.patterns if p.ratio is None]
    masks = df.select([p.mask().alias(p.name) for p in fixed]) if fixed else None
    for pattern in fixed:
        assert masks is not None
        hit = masks[pattern.name].to_numpy()
        p = pattern.probability(month, months)
        keep[hit] *= 1.0 - p
        newer = hit & ((p > best_p) | ~labelled)
        best[newer], best_p[newer] = pattern.name, p
        labelled |= newer
    if causes.repeat_boost > 0:
        keep[repeat] *= 1.0 - causes.repeat_boost
        best[repeat & (best_p < causes.repeat_boost)] = REPEAT_PATTERN
    return 1.0 - keep, best


def _base(df: pl.DataFrame, trusted: np.ndarray, base_rate: float) -> np.ndarray:
    """The base probability: country factor x mode factor, lower for trusted importers."""
    country = {c: f for c, (_, f) in COUNTRIES.items()}
    base: np.ndarray = df.select(
        pl.lit(base_rate)
        * pl.col("country_of_origin").replace_strict(country, default=0.1, return_dtype=pl.Float64)
        * pl.col("mode").replace_strict(MODE_FACTOR, return_dtype=pl.Float64)
    ).to_series().to_numpy().copy()
    base[trusted] *= TRUSTED_FACTOR
    return base
