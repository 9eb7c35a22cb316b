"""What an exam records: its date, result, disposition, values and any referral to investigators."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

REEXAM_RATE = 0.01
# Port practice (audit Table 1): below a domestic-value threshold some ports let the importer
# abandon the goods or refuse entry instead of seizing; the others always seize.
PORT_PRACTICE: Mapping[str, tuple[str, float]] = {
    "4701": ("voluntary_abandonment", 2_500.0), "2720": ("refused_entry", 750.0),
    "5206": ("voluntary_abandonment", 75_000.0), "3901": ("refused_entry", 10_000.0),
    "4196": ("voluntary_abandonment", 5_000.0), "2006": ("refused_entry", 2_000.0),
    "2801": ("voluntary_abandonment", 1_000.0),
}
REFERRAL_OUTCOMES = ("investigation_opened", "criminal_case", "civil_penalty")
EXAM_COLUMNS = ("exam_id", "shipment_id", "exam_date", "selection_method", "selector_id",
                "exam_type", "result", "disposition", "msrp", "domestic_value", "referred_to_ice",
                "referral_date", "referral_accepted", "referral_outcome", "selection_probability")


@dataclass(frozen=True)
class Recording:
    """What ports record after a finding, and how often finds are referred to ICE/HSI."""

    practice: Mapping[str, tuple[str, float]] = field(default_factory=lambda: dict(PORT_PRACTICE))
    below_share: float = 0.85              # of finds under the threshold that take the alternative
    no_disposition: frozenset[str] = frozenset()        # ports that record no disposition at all
    unrecorded_alternatives: frozenset[str] = frozenset()  # ports that leave alternatives NULL
    referral_rate: float = 0.03
    referral_accepted: float = 0.6


def exam_rows(rng: np.random.Generator, df: pl.DataFrame, found: np.ndarray,
              method: np.ndarray, selector: np.ndarray, extra: Mapping[str, np.ndarray],
              recording: Recording) -> pl.DataFrame:
    """One row per exam (a few shipments are examined twice); `extra` adds per-shipment columns
    (exam_type, selection_probability) to every exam of the shipment."""
    rows = np.flatnonzero(method != "")
    again = rows[rng.random(len(rows)) < REEXAM_RATE]
    idx = np.concatenate([rows, again])
    delay = np.concatenate([rng.integers(0, 4, len(rows)), rng.integers(4, 15, len(again))])
    discrepant = found[idx]
    exams = df[idx].select("shipment_id", "arrival_date", "port_code", "declared_value").with_columns(
        exam_date=pl.col("arrival_date") + pl.duration(days=pl.lit(pl.Series(delay))),
        selection_method=pl.Series(method[idx].astype(str)),
        selector_id=pl.Series(selector[idx].tolist(), dtype=pl.String),
        result=pl.Series(np.where(discrepant, "discrepant", "no_discrepancy")),
        **{name: pl.Series(values[idx]) for name, values in extra.items()},
    )
    exams = _dispositions(rng, exams, discrepant, recording)
    exams = _referrals(rng, exams, discrepant, recording)
    return exams.select([c for c in EXAM_COLUMNS[1:] if c in exams.columns])


def _dispositions(rng: np.random.Generator, exams: pl.DataFrame, discrepant: np.ndarray,
                  recording: Recording) -> pl.DataFrame:
    n = len(exams)
    declared = exams["declared_value"].to_numpy()
    msrp = np.round(declared * np.maximum(1.5, rng.lognormal(np.log(6.0), 0.5, n)), 2)
    domestic = np.round(declared * rng.uniform(1.1, 1.8, n), 2)
    ports = exams["port_code"].to_numpy()
    alt = np.array([recording.practice.get(p, ("seizure", 0.0))[0] for p in ports], dtype=object)
    limit = np.array([recording.practice.get(p, ("seizure", 0.0))[1] for p in ports])
    below = (domestic < limit) & (rng.random(n) < recording.below_share)
    disposition = np.full(n, None, dtype=object)
    disposition[discrepant] = np.where(below, alt, "seizure")[discrepant]
    # The audit: outcomes other than seizure often went unrecorded, and some ports record none.
    quiet = np.isin(ports, sorted(recording.unrecorded_alternatives)) & (disposition != "seizure")
    disposition[quiet | np.isin(ports, sorted(recording.no_disposition))] = None
    return exams.with_columns(
        disposition=pl.Series(disposition.tolist(), dtype=pl.String),
        msrp=pl.Series(np.where(discrepant, msrp, np.nan)).fill_nan(None),
        domestic_value=pl.Series(np.where(discrepant, domestic, np.nan)).fill_nan(None),
    )


def _referrals(rng: np.random.Generator, exams: pl.DataFrame, discrepant: np.ndarray,
               recording: Recording) -> pl.DataFrame:
    """3% of finds go to ICE/HSI; a referral has a date (3-90 days after the exam), whether the
    investigators took it, and what came of it ('declined' when they did not)."""
    n = len(exams)
    referred = discrepant & (rng.random(n) < recording.referral_rate)
    lag = rng.integers(3, 91, n)
    accepted = rng.random(n) < recording.referral_accepted
    outcome = np.array(REFERRAL_OUTCOMES)[rng.integers(0, len(REFERRAL_OUTCOMES), n)]
    return exams.with_columns(
        referred_to_ice=pl.Series(referred),
        referral_date=pl.when(pl.Series(referred)).then(
            pl.col("exam_date") + pl.duration(days=pl.lit(pl.Series(lag)))),
        referral_accepted=pl.when(pl.Series(referred)).then(pl.Series(accepted)),
        referral_outcome=pl.when(pl.Series(referred)).then(
            pl.Series(np.where(accepted, outcome, "declined"))),
    )
