"""The hidden truth: planted violation patterns and each shipment's violation probability.

Each pattern is plain data (name, kind, description) plus a mask over manifest columns and a
probability that may change with the month, so tests and docs can name what was planted.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from targeting.generate.catalogue import BAG_BRANDS, COUNTRIES, SHOE_BRANDS

KINDS = ("real_national", "real_local", "none", "decaying", "emerging")

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


@dataclass(frozen=True)
class Pattern:
    """One planted pattern: who it touches and how likely those shipments violate."""

    name: str
    kind: str
    description: str
    mask: Callable[[], pl.Expr]
    probability: Callable[[int, int], float]    # (month index, months) -> p


def _words(words: tuple[str, ...]) -> pl.Expr:
    return pl.col("description").str.contains_any(list(words), ascii_case_insensitive=True)


def _decay(month: int, months: int) -> float:
    # Strong at first, gone 8 months before the end: violators moved to other routes.
    return 0.40 * max(0.0, 1.0 - month / max(1, months - 8))


def emerge_month(months: int) -> int:
    """The month (0-based) in which the emerging pattern appears: mid-history."""
    return months // 2


PATTERNS: tuple[Pattern, ...] = (
    Pattern("express_handbags", "real_national",
            "Low-value branded handbags from CN/HK by express, at every port",
            lambda: (pl.col("mode") == "express") & pl.col("country_of_origin").is_in(["CN", "HK"])
            & pl.col("hts_code").str.starts_with("4202") & _words(BAG_BRANDS)
            & (pl.col("declared_value") < 800),
            lambda m, n: 0.35),
    Pattern("hk_watches", "real_national",
            "Chinese-made watches transshipped through Hong Kong by express or mail",
            lambda: pl.col("hts_code").str.starts_with("910")
            & (pl.col("country_of_export") == "HK") & (pl.col("country_of_origin") == "CN")
            & pl.col("mode").is_in(["express", "mail"]),
            lambda m, n: 0.30),
    Pattern("brake_pads", "real_national",
            "Branded brake pads made in China (counterfeit automotive parts), any mode",
            lambda: pl.col("hts_code").str.starts_with("870830")
            & (pl.col("country_of_origin") == "CN") & _words(BRAKE_BRANDS),
            lambda m, n: 0.30),
    Pattern("miami_network", "real_local",
            "A ring of six Turkish shippers sending perfume 'samples' through Miami (5206) only",
            lambda: pl.col("shipper_id").is_in(list(NETWORK_SHIPPERS)),
            lambda m, n: 0.40),
    Pattern("fishing_reels", "none",
            "Fishing reels: an officer's personal interest; no more violations than the base rate",
            lambda: pl.col("hts_code") == "9507300000",
            lambda m, n: 0.0),
    Pattern("mail_sneakers", "decaying",
            "Branded sneakers from CN by mail; violators left this route, gone in the last 8 months",
            lambda: (pl.col("mode") == "mail") & (pl.col("country_of_origin") == "CN")
            & pl.col("hts_code").str.starts_with("640") & _words(SHOE_BRANDS),
            _decay),
    Pattern("weight_loss_pens", "emerging",
            "Unapproved weight-loss injection pens by express from CN/HK, from mid-history on",
            lambda: pl.col("hts_code").str.starts_with("3004") & _words(PEN_WORDS),
            lambda m, n: 0.40 if m >= emerge_month(n) else 0.0),
)
REPEAT_PATTERN = "repeat_violators"


def patterns_table() -> pl.DataFrame:
    """The planted patterns as a table (name, kind, description)."""
    rows = [(p.name, p.kind, p.description) for p in PATTERNS]
    rows.append((REPEAT_PATTERN, "real_national",
                 "Importers who violate repeatedly (some listed in lists/repeat_violators.txt)"))
    return pl.DataFrame(rows, schema=["name", "kind", "description"], orient="row")


def violation_probability(
    df: pl.DataFrame, month: int, months: int, repeat: np.ndarray, trusted: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's p_violation and its strongest pattern's name (None where no pattern)."""
    country = {c: f for c, (_, f) in COUNTRIES.items()}
    base = df.select(
        pl.lit(BASE_RATE)
        * pl.col("country_of_origin").replace_strict(country, default=0.1, return_dtype=pl.Float64)
        * pl.col("mode").replace_strict(MODE_FACTOR, return_dtype=pl.Float64)
    ).to_series().to_numpy().copy()
    base[trusted] *= TRUSTED_FACTOR
    keep = 1.0 - base
    best_p = np.zeros(len(df))
    best = np.full(len(df), None, dtype=object)
    masks = df.select([p.mask().alias(p.name) for p in PATTERNS])
    for pattern in PATTERNS:
        hit = masks[pattern.name].to_numpy()
        p = pattern.probability(month, months)
        keep[hit] *= 1.0 - p
        newer = hit & ((p > best_p) | (best == None))
        best[newer], best_p[newer] = pattern.name, p
    keep[repeat] *= 1.0 - REPEAT_BOOST
    take = repeat & (best_p < REPEAT_BOOST)
    best[take] = REPEAT_PATTERN
    return 1.0 - keep, best
