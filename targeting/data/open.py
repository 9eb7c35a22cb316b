"""Open the configured data: from the store when it is current, else read, check and type the
sources (and keep them in the store for next time)."""
from __future__ import annotations

import os

from targeting.data import store, tables
from targeting.data.checks import read_dataset
from targeting.data.config import Config
from targeting.data.dataset import Dataset
from targeting.data.plausible import judge_arrivals
from targeting.data.sources import drop_staging

# Shipments per arrival day, from the prepared `arrivals` table (data/tables.py).
DAYS_SQL = "SELECT arrival_date, sum(shipments) AS n FROM arrivals GROUP BY arrival_date"


def open_dataset(config: Config, use_store: bool | None = None) -> Dataset:
    """Read, check and type the configured data; DataError (exit 2) lists every problem, and
    implausible arrival dates are errors or warnings (data/plausible.py).

    A checked, typed copy is kept in the project's store and reused while the source files are
    unchanged; `use_store=False` or TARGETING_STORE=0 reads the sources into memory.
    """
    dataset = _open(config, use_store)
    try:
        judge_arrivals(dataset.con, config, DAYS_SQL)
    except BaseException:
        dataset.close()
        raise
    return dataset


def _open(config: Config, use_store: bool | None) -> Dataset:
    if use_store is None:
        use_store = os.environ.get("TARGETING_STORE", "1") != "0"
    if use_store:
        stored = store.open_stored(config) or store.build(config)
        if stored is not None:
            return stored
    dataset = read_dataset(config)
    drop_staging(dataset.con)
    tables.prepare(dataset.con)
    return dataset
