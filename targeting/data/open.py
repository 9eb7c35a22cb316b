"""Open the configured data: from the store when it is current, else read, check and type the
sources (and keep them in the store for next time)."""
from __future__ import annotations

import os

from targeting.data import store, tables
from targeting.data.checks import read_dataset
from targeting.data.config import Config
from targeting.data.dataset import Dataset
from targeting.data.sources import drop_staging


def open_dataset(config: Config, use_store: bool | None = None) -> Dataset:
    """Read, check and type the configured data; DataError (exit 2) lists every problem.

    A checked, typed copy is kept in the project's store and reused while the source files are
    unchanged; `use_store=False` or TARGETING_STORE=0 reads the sources into memory.
    """
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
