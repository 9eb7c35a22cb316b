"""Reading a date however YAML, a command line or a caller hands it over."""
from __future__ import annotations

import datetime as dt
from typing import Any


def date_of(value: Any) -> dt.date | None:
    """The date in `value`: a date, a datetime (its day), or ISO text such as '2021-03-02'
    (quoted in YAML, or typed on a command line); None when it holds no date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None
