"""The backtest window: which arrival dates count. One type, with every way to make one."""
from __future__ import annotations

import calendar
import datetime as dt
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from targeting.dates import date_of
from targeting.errors import TargetingError, TargetingWarning

_PERIOD = re.compile(r"^(\d+)([dmy])$")

DateLike = dt.date | str


class WindowError(TargetingError):
    """A --since/--until/--last value that cannot be used."""


def as_date(value: DateLike | None, name: str = "date") -> dt.date | None:
    """A date from a `date`, a `datetime` or an ISO string such as '2025-01-31' (None stays None)."""
    if value is None:
        return None
    found = date_of(value)
    if found is not None:
        return found
    raise WindowError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD, such as 2025-01-31")


@dataclass(frozen=True)
class Window:
    """Shipments whose arrival_date lies in [since, until], both inclusive."""

    since: dt.date
    until: dt.date

    @classmethod
    def resolve(cls, data_first: dt.date | None, data_last: dt.date | None,
                since: DateLike | None = None, until: DateLike | None = None,
                last: str | None = None) -> Window:
        """Fill open ends from the data's date range; `last` ("12m", "90d", "2y") counts back
        from until. A window reaching beyond the data is clipped to it, with a warning that
        says what was asked and what is used: days without data would otherwise count in every
        rate per day (--since a year early halved flags per day)."""
        since_d, until_d = as_date(since, "--since"), as_date(until, "--until")
        if last and since_d:
            raise WindowError("give either --since or --last, not both")
        end = until_d or data_last or dt.date.today()
        start = months_back(end, last) if last else since_d
        start = start or data_first or end
        if start > end and until_d is None and data_last is not None:
            raise WindowError(f"--since {start} is after the data's last arrival ({data_last}); "
                              "choose an earlier date")
        if start > end:
            raise WindowError(f"the window is empty: since {start} is after until {end}")
        return cls(start, end).clipped(data_first, data_last)

    def clipped(self, first: dt.date | None, last: dt.date | None) -> Window:
        """This window within the data's arrival dates [first, last] (warning when it shrinks);
        WindowError when it holds none of them."""
        if first is None or last is None:
            return self
        if self.until < first or self.since > last:
            raise WindowError(f"the window {self} holds no data: the data's arrivals run {first} "
                              f".. {last}. Choose dates in that range.")
        used = Window(max(self.since, first), min(self.until, last))
        if used != self:
            warnings.warn(f"warning[window-clipped]: the window {self} was asked for, but the "
                          f"data's arrivals run {first} .. {last}; using {used} "
                          f"({used.days:,} days).", TargetingWarning, stacklevel=3)
        return used

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Window:
        """The window written by `as_dict`."""
        since, until = as_date(doc["since"], "since"), as_date(doc["until"], "until")
        assert since is not None and until is not None
        return cls(since, until)

    @property
    def days(self) -> int:
        return max((self.until - self.since).days + 1, 0)

    def starting(self, day: dt.date) -> Window:
        """The part of the window from `day` on (never before the window starts)."""
        return Window(max(self.since, day), self.until)

    def last_months(self, months: int) -> Window:
        """The last `months` of the window (never before its start)."""
        return self.starting(months_back(self.until, f"{months}m"))

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "days": self.days}

    def __str__(self) -> str:
        return f"{self.since} .. {self.until}"


def months_back(until: dt.date, period: str) -> dt.date:
    """The first day of the period of that length ending on `until`: '12m', '90d' or '2y'."""
    match = _PERIOD.match(period.strip())
    if not match:
        raise WindowError(f"--last {period!r} is not a period; write a number and d, m or y, "
                          "such as 12m")
    n, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return until - dt.timedelta(days=n - 1)
    months = n * (12 if unit == "y" else 1)
    year, month = divmod(until.year * 12 + until.month - 1 - months, 12)
    day = min(until.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day) + dt.timedelta(days=1)
