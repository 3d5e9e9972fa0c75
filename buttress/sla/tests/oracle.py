"""A brute-force business-time oracle, written apart from the engine to check it.

It steps through real time one UTC minute at a time and asks of each minute's first instant
whether the local wall time lies in a window, the local date is not a holiday and the instant
is not closed. It is exact for inputs on whole minutes whose windows and closures are on whole
minutes too (then a minute is either all business time or none of it).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from buttress.sla.calendar import BusinessCalendar

MINUTE = timedelta(minutes=1)


class Oracle:
    def __init__(self, calendar: BusinessCalendar) -> None:
        self.zone = ZoneInfo(calendar.timezone)
        self.weekly = {day: list(windows) for day, windows in calendar.weekly.items()}
        self.holidays = set(calendar.holidays)
        self.closures = list(calendar.closures)

    def is_business(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        wall = local.time()
        in_window = any(
            start <= wall and (end == time(0) or wall < end)
            for start, end in self.weekly.get(local.weekday(), ())
        )
        return in_window and not any(start <= instant < end for start, end in self.closures)

    def between(self, start: datetime, end: datetime) -> timedelta:
        minutes = 0
        instant = start.astimezone(UTC)
        while instant < end:
            minutes += self.is_business(instant)
            instant += MINUTE
        return minutes * MINUTE

    def add(self, start: datetime, duration: timedelta, horizon: timedelta) -> datetime | None:
        """The answer, or None when it lies beyond ``start + horizon``."""
        if not duration:
            return start
        need = duration // MINUTE
        instant = start.astimezone(UTC)
        stop = instant + horizon
        while instant < stop:
            if self.is_business(instant):
                need -= 1
                if need == 0:
                    return instant + MINUTE
            instant += MINUTE
        return None
