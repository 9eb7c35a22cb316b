"""The gate's cache (targeting/cache.py) and the data fingerprint its entries are keyed by."""
from __future__ import annotations

from targeting.cache import CACHE_DIR, Cache, cache_key
from targeting.data.config import Config

__all__ = ["CACHE_DIR", "Cache", "cache_key", "data_fingerprint"]


def data_fingerprint(config: Config) -> str:
    """The same fingerprint as `Dataset.fingerprint`, computed from the configured files without
    staging the data, so a fully cached run never loads it."""
    from targeting.data.dataset import fingerprint, source_files

    return fingerprint(config, tuple(source_files(config)))
