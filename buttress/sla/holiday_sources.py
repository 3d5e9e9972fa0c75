"""Holiday dates for a ``BusinessCalendar``: public holidays by country, or an iCalendar feed.

Kept apart from ``buttress.sla.calendar`` so the arithmetic loads without these libraries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta

import holidays
import icalendar
from dateutil import rrule
from icalendar.cal import Component

__all__ = ["holidays_for", "holidays_from_ical"]

# Occurrences of an open-ended recurring event when no years are given.
_DEFAULT_RECURRENCE_YEARS = 10
# A feed that expands to more dates than this is refused rather than held in memory.
_MAX_DATES = 100_000
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def holidays_for(country: str, subdivision: str | None, years: Iterable[int]) -> set[date]:
    """Public holidays of a country (ISO 3166-1 code) and optional subdivision, per year."""
    wanted = sorted(set(years))
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=wanted)
    except NotImplementedError:
        if country.upper() not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays are known for country {country!r}") from None
        raise ValueError(
            f"country {country!r} has no subdivision {subdivision!r}; known: "
            + ", ".join(holidays.list_supported_countries()[country.upper()])
        ) from None
    return set(found.keys())


def holidays_from_ical(data: bytes | str, years: Iterable[int] | None = None) -> set[date]:
    """Every date covered by an all-day event of an iCalendar feed.

    An event covers ``DTSTART`` up to, not including, ``DTEND`` (or ``DTSTART + DURATION``; one
    day when neither is given). Recurring events (``RRULE``, ``RDATE``, ``EXDATE``) are
    expanded. With ``years``, only dates in those years are answered; without, an open-ended
    recurrence is expanded over the ten years from its first occurrence. Timed and cancelled
    events are ignored. Malformed input raises ``ValueError``.
    """
    wanted = None if years is None else frozenset(years)
    try:
        feed = icalendar.Calendar.from_ical(data)
        found: set[date] = set()
        for event in feed.walk("VEVENT"):
            for day in _event_dates(event, wanted):
                if wanted is None or day.year in wanted:
                    found.add(day)
                    if len(found) > _MAX_DATES:
                        raise ValueError(f"the feed covers more than {_MAX_DATES} dates")
    except _PARSE_ERRORS as error:
        raise ValueError(f"not a usable iCalendar holiday feed: {error}") from error
    return found


def _event_dates(event: Component, wanted: frozenset[int] | None) -> Iterator[date]:
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return
    if "DTSTART" not in event:
        raise ValueError(f"event {event.get('UID', '')!s} has no DTSTART")
    start = event.decoded("DTSTART")
    if isinstance(start, datetime) or not isinstance(start, date):
        return  # a timed event is an appointment, not a holiday
    length = _length(event, start)
    for first in _occurrences(event, start, wanted):
        for offset in range(length):
            yield first + timedelta(days=offset)


def _length(event: Component, start: date) -> int:
    """Number of days an all-day event covers."""
    if "DTEND" in event:
        end = event.decoded("DTEND")
        if isinstance(end, datetime) or not isinstance(end, date):
            raise ValueError(f"event starting {start} mixes a date start with a timed end")
        days = (end - start).days
    elif "DURATION" in event:
        duration = event.decoded("DURATION")
        if not isinstance(duration, timedelta):
            raise ValueError(f"event starting {start} has a DURATION that is not a duration")
        days = duration.days
    else:
        days = 1
    if days <= 0:
        raise ValueError(f"event starting {start} ends before it starts")
    if days > 366:
        raise ValueError(f"event starting {start} lasts more than a year")
    return days


def _occurrences(event: Component, start: date, wanted: frozenset[int] | None) -> Iterator[date]:
    if "RRULE" not in event and "RDATE" not in event:
        yield start
        return
    first = datetime.combine(start, time())
    if wanted:
        last = datetime(max(wanted), 12, 31)  # noqa: DTZ001 - all-day dates carry no zone
    else:
        last = datetime.combine(start.replace(year=start.year + _DEFAULT_RECURRENCE_YEARS), time())
    rules = rrule.rruleset()
    if "RRULE" not in event:
        rules.rdate(first)
    for recur in _as_list(event.get("RRULE")):
        if "UNTIL" in recur:
            # Dated events may carry a UTC UNTIL; the rule itself is naive like its start.
            until = recur["UNTIL"][0]
            recur = icalendar.vRecur(dict(recur))
            recur["UNTIL"] = [until.date() if isinstance(until, datetime) else until]
        rule = rrule.rrulestr(recur.to_ical().decode(), dtstart=first)
        if not isinstance(rule, rrule.rrule):
            raise ValueError(f"event starting {start} has an RRULE that is not one rule")
        rules.rrule(rule)
    for moments in _as_list(event.get("RDATE")):
        for moment in moments.dts:
            rules.rdate(_naive_day(moment.dt))
    for moments in _as_list(event.get("EXDATE")):
        for moment in moments.dts:
            rules.exdate(_naive_day(moment.dt))
    for count, occurrence in enumerate(rules.xafter(first, inc=True)):
        if occurrence > last:
            break
        if count > _MAX_DATES:
            raise ValueError(f"event starting {start} recurs more than {_MAX_DATES} times")
        yield occurrence.date()


def _as_list[T](value: T | list[T] | None) -> list[T]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _naive_day(value: date | datetime) -> datetime:
    day = value.date() if isinstance(value, datetime) else value
    return datetime.combine(day, time())
