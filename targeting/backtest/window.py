"""The backtest window: which arrival dates count, resolved against the data."""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from targeting.errors import TargetingError

_LAST = re.compile(r"^(\d+)([dmy])$")


class WindowError(TargetingError):
    """A --since/--until/--last value that cannot be used."""


@dataclass(frozen=True)
class Window:
    """Shipments whose arrival_date lies in [since, until], both inclusive."""

    since: dt.date
    until: dt.date

    @property
    def days(self) -> int:
        return max((self.until - self.since).days + 1, 0)

    def as_dict(self) -> dict:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "days": self.days}


def resolve_window(data_first: dt.date | None, data_last: dt.date | None,
                   since: dt.date | None = None, until: dt.date | None = None,
                   last: str | None = None) -> Window:
    """Fill open ends from the data's date range; `last` ("12m", "90d", "2y") counts back from until."""
    if last and since:
        raise WindowError("give either --since or --last, not both")
    until = until or data_last or dt.date.today()
    if last:
        since = _back(until, last)
    since = since or data_first or until
    if since > until:
        raise WindowError(f"the window is empty: since {since} is after until {until}")
    return Window(since, until)


def _back(until: dt.date, last: str) -> dt.date:
    match = _LAST.match(last.strip())
    if not match:
        raise WindowError(f"--last {last!r} is not a period; write a number and d, m or y, such as 12m")
    n, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return until - dt.timedelta(days=n - 1)
    months = n * (12 if unit == "y" else 1)
    year, month = divmod(until.year * 12 + until.month - 1 - months, 12)
    day = min(until.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day) + dt.timedelta(days=1)
