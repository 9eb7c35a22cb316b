"""Who gets examined and what the exam finds: rules, observation, tips and random exams."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from targeting.compile.polars_expr import compile_polars
from targeting.rules.model import Rule

RANDOM_RATE = 0.005          # compliance-measurement sample, uniform
OBSERVATION_RATE = 0.003     # walk-throughs; eyes drift to bags, watches, shoes
OBSERVATION_ENRICH = 3.0
OBSERVED_CATEGORIES = ("4202", "910", "640", "711", "9004", "3304", "3004")
TIP_RATE_VIOLATING, TIP_RATE_CLEAN = 0.01, 0.0001
DETECTION = 0.90             # exams find 90% of violations
REEXAM_RATE = 0.01
ICE_REFERRAL = 0.03
# Per-rule capacity: at most this share of a month's shipments examined for one rule, and at
# most this share of what the rule matches (officers examine most of a small query's hits).
CAPACITY = {"udr": (0.0015, 0.5), "query": (0.0006, 0.8)}
# The sneaker UDR is old and heavily worked (mail facilities examine most of its hits).
CAPACITY_BY_RULE = {"UDR-0002": (0.006, 0.8)}
# Port practice (audit Table 1): below a domestic-value threshold some ports let the importer
# abandon the goods or refuse entry instead of seizing; the others always seize.
PORT_PRACTICE = {
    "4701": ("voluntary_abandonment", 2_500.0), "2720": ("refused_entry", 750.0),
    "5206": ("voluntary_abandonment", 75_000.0), "3901": ("refused_entry", 10_000.0),
    "4196": ("voluntary_abandonment", 5_000.0), "2006": ("refused_entry", 2_000.0),
    "2801": ("voluntary_abandonment", 1_000.0),
}
# The compliance sample is drawn before any targeting, so its exams stay an unbiased sample.
SELECTOR_ORDER = ("random", "tip", "udr", "query", "observation")


@dataclass(frozen=True)
class Selector:
    """A compiled rule with the date it started selecting."""

    id: str
    kind: str
    created: dt.date | None
    port: str | None
    expr: pl.Expr


def selectors(rules: list[Rule], lists: Mapping[str, frozenset[str]]) -> list[Selector]:
    """Rules that select exams (every status but draft), UDRs before queries, by id."""
    live = [r for r in rules if r.status != "draft"]
    live.sort(key=lambda r: (r.kind != "udr", r.id))
    return [Selector(r.id, r.kind, r.created, r.port if r.kind == "query" else None,
                     compile_polars(r.where, lists)) for r in live]


def _matches(df: pl.DataFrame, sels: list[Selector]) -> list[np.ndarray]:
    """Each selector's matches. A query only looks at its own port's rows: its predicate names
    the port anyway, and skipping the other ports makes generation several times faster."""
    found: dict[int, np.ndarray] = {}
    for port in {s.port for s in sels}:
        group = [i for i, s in enumerate(sels) if s.port == port]
        rows = (np.flatnonzero(df["port_code"].to_numpy() == port) if port is not None
                else np.arange(len(df)))
        part = df[rows] if port is not None else df
        exprs = [(sels[i].expr & (pl.col("arrival_date") >= (sels[i].created or dt.date.min)))
                 .alias(str(i)) for i in group]
        matched = part.select(exprs)
        for i in group:
            full = np.zeros(len(df), dtype=bool)
            full[rows] = matched[str(i)].to_numpy()
            found[i] = full
    return [found[i] for i in range(len(sels))]


def _rule_picks(rng: np.random.Generator, df: pl.DataFrame, sels: list[Selector]):
    n = len(df)
    method = np.full(n, "", dtype=object)
    selector = np.full(n, None, dtype=object)
    if not sels:
        return method, selector
    for sel, hit in zip(sels, _matches(df, sels)):
        share, most = CAPACITY_BY_RULE.get(sel.id, CAPACITY[sel.kind])
        p = min(most, share * n / max(1, hit.sum()))
        take = hit & (rng.random(n) < p) & (method == "")
        method[take], selector[take] = sel.kind, sel.id
    return method, selector


def select_exams(rng: np.random.Generator, df: pl.DataFrame, violating: np.ndarray,
                 sels: list[Selector]) -> tuple[np.ndarray, np.ndarray]:
    """For every shipment, the first selector that examined it ('' = not examined)."""
    n = len(df)
    tip = rng.random(n) < np.where(violating, TIP_RATE_VIOLATING, TIP_RATE_CLEAN)
    rule_method, rule_id = _rule_picks(rng, df, sels)
    risky = df.select(pl.col("hts_code").str.starts_with(OBSERVED_CATEGORIES[0]).alias("r")
                      ).to_series().to_numpy()
    for prefix in OBSERVED_CATEGORIES[1:]:
        risky |= df["hts_code"].str.starts_with(prefix).to_numpy()
    risky &= df["mode"].to_numpy() != "cargo"
    observed = rng.random(n) < OBSERVATION_RATE * np.where(risky, OBSERVATION_ENRICH, 1.0)
    random = rng.random(n) < RANDOM_RATE
    method = np.where(random, "random", np.where(tip, "tip", np.where(
        rule_method != "", rule_method, np.where(observed, "observation", ""))))
    selector = np.where(method == rule_method, rule_id, None)
    return method, selector


def exam_rows(rng: np.random.Generator, df: pl.DataFrame, violating: np.ndarray,
              method: np.ndarray, selector: np.ndarray) -> pl.DataFrame:
    """One row per exam (a few shipments are examined twice), with findings and dispositions."""
    rows = np.flatnonzero(method != "")
    again = rows[rng.random(len(rows)) < REEXAM_RATE]
    found = violating & (rng.random(len(df)) < DETECTION)
    idx = np.concatenate([rows, again])
    delay = np.concatenate([rng.integers(0, 4, len(rows)), rng.integers(4, 15, len(again))])
    sub = df[idx].select("shipment_id", "arrival_date", "port_code", "declared_value")
    discrepant = found[idx]
    exams = sub.with_columns(pl.Series("delay", delay)).with_columns(
        exam_date=pl.col("arrival_date") + pl.duration(days=pl.col("delay")),
        selection_method=pl.Series(method[idx].astype(str)),
        selector_id=pl.Series(selector[idx].tolist(), dtype=pl.String),
        result=pl.Series(np.where(discrepant, "discrepant", "no_discrepancy")),
    )
    return _dispositions(rng, exams, discrepant)


def _dispositions(rng: np.random.Generator, exams: pl.DataFrame, discrepant: np.ndarray):
    n = len(exams)
    declared = exams["declared_value"].to_numpy()
    msrp = np.round(declared * np.maximum(1.5, rng.lognormal(np.log(6.0), 0.5, n)), 2)
    domestic = np.round(declared * rng.uniform(1.1, 1.8, n), 2)
    ports = exams["port_code"].to_numpy()
    alt = np.array([PORT_PRACTICE.get(p, ("seizure", 0.0))[0] for p in ports], dtype=object)
    limit = np.array([PORT_PRACTICE.get(p, ("seizure", 0.0))[1] for p in ports])
    below = (domestic < limit) & (rng.random(n) < 0.85)
    disposition = np.where(discrepant, np.where(below, alt, "seizure"), None)
    ice = discrepant & (rng.random(n) < ICE_REFERRAL)
    return exams.with_columns(
        disposition=pl.Series(disposition.tolist(), dtype=pl.String),
        msrp=pl.Series(np.where(discrepant, msrp, np.nan)).fill_nan(None),
        domestic_value=pl.Series(np.where(discrepant, domestic, np.nan)).fill_nan(None),
        referred_to_ice=pl.Series(ice),
    ).select("shipment_id", "exam_date", "selection_method", "selector_id",
             "result", "disposition", "msrp", "domestic_value", "referred_to_ice")
