"""The gate's cache (targeting/cache.py) and the data fingerprint its entries are keyed by."""
from __future__ import annotations

from targeting.cache import CACHE_DIR, Cache, cache_key
from targeting.data.config import Config

__all__ = ["CACHE_DIR", "Cache", "cache_key", "data_fingerprint"]


def data_fingerprint(config: Config) -> str:
    """The same content fingerprint as `Dataset.fingerprint` (and the store's key), computed
    from the configured files without staging the data, so a fully cached run never loads it."""
    from targeting.data import store

    if config.data.spark_only is not None:  # a lake's files: only Spark lists them
        from targeting.data.spark import spark_fingerprint

        return spark_fingerprint(config)
    return store.data_fingerprint(config)
