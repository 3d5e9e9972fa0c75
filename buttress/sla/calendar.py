"""Business-time arithmetic over a weekly schedule, holidays and closures.

A calendar is a set of real instants, "business time". An instant is business time when

* its wall-clock time in the calendar's zone falls inside one of the ``[start, end)`` windows
  of its local weekday (``end == time(0, 0)`` means the end of that day, midnight);
* its local date is not a holiday;
* it is not inside any closure ``[start, end)`` (closures are real instants, not wall times).

Business time is measured as real elapsed time, never as wall-clock differences. So across
DST changes:

* a window whose wall times are partly skipped by a spring-forward gap holds only the real
  time that exists: 01:30-02:30 on a day when 02:00-03:00 does not exist holds 30 minutes;
* a window covering wall times repeated by a fall-back overlap counts both real passes: 00:00-
  03:00 on a day when 01:00-02:00 happens twice holds four hours.

``add(start, duration)`` answers the first instant ``T >= start`` with
``between(start, T) == duration``: a duration that runs out exactly at the end of a window
answers that end, not the next opening, and a zero duration answers ``start`` itself. The two
operations are inverse, ``between(s, add(s, d)) == d``, and exact to the microsecond: all
arithmetic is done on integer microseconds, so inputs with seconds and microseconds give exact
results. ``add`` answers in the time zone of its ``start``.

Searches are bounded: ``add`` raises ``NoBusinessTime`` (a ``ValueError``) when the duration is
not reached within ten years, ``between`` refuses intervals longer than a hundred years, and
instants must lie in the years 2 to 9997.

Each calendar keeps, per stretch of 64 days of real time, its business time as sorted UTC
intervals (integer microseconds) with a running total, built on first use and cached: at most 32
stretches and about 100,000 intervals per calendar, the stretch built first dropped first. A new
calendar answers its first few questions the uncached way below, as one made for a single answer
never repays building a stretch. An answer within eight stretches of its start costs a bisection
or two and a look-up per stretch it touches: ``between`` is the running total at its end less
that at its start, ``add`` finds the interval where the running total reaches the start's plus
the duration. Longer answers, and the rest of an ``add`` that goes further, do not step through
time either: they work on spans of constant UTC offset, in which the wall clock is the real
clock shifted, count whole weeks from per-weekday totals corrected by the holidays and closures
they contain, and walk single days only for the last week of an ``add``. Both ways build on the
same spans. UTC offset changes are found by sampling each year every six hours (cached per zone
and year) and bisecting to the second, where the tz database places them; a pair of changes that
undo each other within one six-hour sample would go unseen.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BusinessCalendar", "NoBusinessTime"]

_SECOND = 1_000_000
_HOUR = 3600 * _SECOND
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY
# Day 0 of the integer timeline is 0001-01-01, a Monday, so ``day % 7`` is the weekday.
_EPOCH = datetime(1, 1, 1)  # noqa: DTZ001 - the naive origin of the integer timeline
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)
_SAMPLE = 6 * _HOUR
_MAX_SEARCH_YEARS = 10
_MAX_SEARCH = (_MAX_SEARCH_YEARS * 366 - 5) * _DAY  # about ten years, leap days included
_MAX_SPAN_YEARS = 100
_MAX_SPAN = (_MAX_SPAN_YEARS * 36525 // 100) * _DAY
# Instants are kept a year clear of datetime's limits, where local times would overflow.
_FIRST = (datetime(2, 1, 1, tzinfo=UTC) - _EPOCH_UTC) // timedelta(microseconds=1)
_LAST = (datetime(9998, 1, 1, tzinfo=UTC) - _EPOCH_UTC) // timedelta(microseconds=1)
_ONE_US = timedelta(microseconds=1)
_ZERO = timedelta(0)
# The cache of business intervals: per stretch of ``_CHUNK`` real time (UTC), at most
# ``_CACHE_CHUNKS`` stretches and about ``_CACHE_INTERVALS`` intervals per calendar, built from
# the ``_COLD_MISSES + 1``th stretch asked for on. Answers reaching more than ``_FAST_CHUNKS``
# stretches go (or go on) the uncached way.
_CHUNK = 64 * _DAY
_CACHE_CHUNKS = 32
_CACHE_INTERVALS = 100_000
_FAST_CHUNKS = 8
_COLD_MISSES = 8
_CHUNKS_END = -(-_LAST // _CHUNK)  # the first stretch wholly past the supported years

type Window = tuple[time, time]
# Business intervals of one stretch: their UTC starts, their ends, and the running total of
# business time before each (one more entry, the stretch's total, at the end).
type _Chunk = tuple[list[int], list[int], list[int]]


class NoBusinessTime(ValueError):
    """``add`` cannot reach the duration within the search bound."""


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _to_utc_us(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment.isoformat()}")
    value = _us(moment.astimezone(UTC).replace(tzinfo=None) - _EPOCH)
    if not _FIRST <= value <= _LAST:
        raise ValueError(f"{name} {moment.isoformat()} is outside the years 2 to 9997")
    return value


def _instant(moment: datetime, name: str) -> int:
    """``_to_utc_us``, quicker for valid input (an aware datetime minus an aware one is exact)."""
    try:
        value: int = (moment - _EPOCH_UTC) // _ONE_US
    except TypeError:
        return _to_utc_us(moment, name)  # raises the error naming what is wrong
    if _FIRST <= value <= _LAST:
        return value
    return _to_utc_us(moment, name)


def _measure_to(chunk: _Chunk, instant: int) -> int:
    """Business time of a stretch before ``instant``."""
    starts, ends, totals = chunk
    index = bisect.bisect_right(starts, instant) - 1
    if index < 0:
        return 0
    if instant >= ends[index]:
        return totals[index + 1]
    return totals[index] + instant - starts[index]


def _from_utc_us(value: int) -> datetime:
    return _EPOCH_UTC + timedelta(microseconds=value)


def _offset_at(zone: ZoneInfo, utc_us: int) -> int:
    offset = _from_utc_us(utc_us).astimezone(zone).utcoffset()
    return 0 if offset is None else _us(offset)


@functools.lru_cache(maxsize=4096)
def _transitions(zone: ZoneInfo, year: int) -> tuple[tuple[int, int], ...]:
    """UTC-offset changes at instants in ``(Jan 1 of year, Jan 1 of year + 1]`` (UTC).

    Each is ``(first instant with the new offset, new offset)``.
    """
    first = _us(datetime(year, 1, 1) - _EPOCH)  # noqa: DTZ001 - naive integer timeline
    last = _us(datetime(year + 1, 1, 1) - _EPOCH)  # noqa: DTZ001
    found: list[tuple[int, int]] = []
    previous, previous_offset = first, _offset_at(zone, first)
    while previous < last:
        current = min(previous + _SAMPLE, last)
        offset = _offset_at(zone, current)
        if offset != previous_offset:
            # The tz database changes offsets on whole seconds: bisect on seconds.
            low, high = previous // _SECOND, current // _SECOND
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_at(zone, middle * _SECOND) == previous_offset:
                    low = middle
                else:
                    high = middle
            found.append((high * _SECOND, offset))
        previous, previous_offset = current, offset
    return tuple(found)


def _year_of(utc_us: int) -> int:
    return date.fromordinal(utc_us // _DAY + 1).year


def _spans(zone: ZoneInfo, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """``(from, to, offset)`` pieces of ``[start, end)`` in which the UTC offset is constant."""
    offset = _offset_at(zone, start)
    current = start
    year = max(_year_of(start) - 1, 2)  # a change at Jan 1 00:00 UTC is listed a year early
    while current < end:
        for moment, new_offset in _transitions(zone, year):
            if moment <= current:
                continue
            if moment >= end:
                break
            if new_offset != offset:
                yield current, moment, offset
                current, offset = moment, new_offset
        year += 1
        if year > _year_of(end):
            break
    if current < end:
        yield current, end, offset


def _parse_window(weekday: int, window: Window) -> tuple[int, int]:
    try:
        start, end = window
    except (TypeError, ValueError):
        raise ValueError(
            f"weekday {weekday}: a window is a (start, end) pair of times, got {window!r}"
        ) from None
    if not isinstance(start, time) or not isinstance(end, time):
        raise ValueError(f"weekday {weekday}: window {window!r} must hold two datetime.time")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError(
            f"weekday {weekday}: window times are wall-clock times in the calendar's zone "
            "and must not carry a tzinfo"
        )
    start_us = _us(datetime.combine(_EPOCH, start) - _EPOCH)
    end_us = _us(datetime.combine(_EPOCH, end) - _EPOCH) or _DAY
    if start_us >= end_us:
        raise ValueError(
            f"weekday {weekday}: window {start.isoformat()}-{end.isoformat()} must start "
            "before it ends (use time(0, 0) as the end for midnight)"
        )
    return start_us, end_us


def _parse_weekly(
    weekly: Mapping[int, Sequence[Window]],
) -> tuple[tuple[tuple[int, int], ...], ...]:
    days: list[tuple[tuple[int, int], ...]] = [() for _ in range(7)]
    for weekday, windows in weekly.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"weekday keys are 0 (Monday) to 6 (Sunday), got {weekday!r}")
        parsed = sorted(_parse_window(weekday, window) for window in windows)
        for (start_a, end_a), (start_b, _) in itertools.pairwise(parsed):
            if start_b < end_a:
                raise ValueError(
                    f"weekday {weekday}: windows overlap "
                    f"({_clock(start_a)}-{_clock(end_a)} and {_clock(start_b)}-...)"
                )
        days[weekday] = tuple(parsed)
    return tuple(days)


def _clock(value: int) -> str:
    return (_EPOCH + timedelta(microseconds=value)).time().isoformat()


def _merge(closures: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(closures):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class BusinessCalendar:
    """Business hours in one IANA time zone; see the module docstring for the semantics."""

    def __init__(
        self,
        timezone: str,
        weekly: Mapping[int, Sequence[Window]],
        holidays: Iterable[date] = (),
        closures: Iterable[tuple[datetime, datetime]] = (),
    ) -> None:
        if not isinstance(timezone, str) or not timezone:
            raise ValueError(f"unknown time zone {timezone!r}: give an IANA name")
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {timezone!r}: give an IANA name") from None
        self.timezone = timezone
        self._windows = _parse_weekly(weekly)
        self.weekly: dict[int, tuple[Window, ...]] = {
            weekday: tuple(sorted(windows, key=lambda window: window[0]))
            for weekday, windows in weekly.items()
            if windows
        }
        holiday_dates: set[date] = set()
        for holiday in holidays:
            if isinstance(holiday, datetime) or not isinstance(holiday, date):
                raise ValueError(f"holidays are dates, got {holiday!r}")
            holiday_dates.add(holiday)
        self.holidays = frozenset(holiday_dates)
        checked: list[tuple[datetime, datetime]] = []
        for closure in closures:
            start, end = closure
            start_us = _to_utc_us(start, "a closure's start")
            end_us = _to_utc_us(end, "a closure's end")
            if end_us <= start_us:
                raise ValueError(
                    f"closure {start.isoformat()} - {end.isoformat()} must end after it starts"
                )
            checked.append((start, end))
        self.closures = tuple(sorted(checked, key=lambda closure: closure[0]))

        self._day_totals = tuple(sum(end - start for start, end in day) for day in self._windows)
        self._week_total = sum(self._day_totals)
        # Only holidays that remove business time matter to the arithmetic.
        self._holiday_days = sorted(
            day
            for day in (holiday.toordinal() - 1 for holiday in self.holidays)
            if self._day_totals[day % 7]
        )
        self._holiday_set = frozenset(self._holiday_days)
        self._holiday_prefix = [0]
        for day in self._holiday_days:
            self._holiday_prefix.append(self._holiday_prefix[-1] + self._day_totals[day % 7])
        merged = _merge(
            (_to_utc_us(start, "closure"), _to_utc_us(end, "closure"))
            for start, end in self.closures
        )
        self._closure_starts = [start for start, _ in merged]
        self._closure_ends = [end for _, end in merged]
        self._chunks: dict[int, _Chunk] = {}
        self._misses = 0
        # Intervals in one stretch: its days (partial ones at either end included) times the
        # most windows of a day, plus splits by closures and offset changes.
        most = (_CHUNK // _DAY + 2) * max(len(day) for day in self._windows) + len(merged) + 8
        self._cache_chunks = max(2, min(_CACHE_CHUNKS, _CACHE_INTERVALS // most))

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessCalendar:
        """Every instant is business time (24x7)."""
        return cls(timezone, {weekday: [(time(0), time(0))] for weekday in range(7)})

    @classmethod
    def office_hours(
        cls,
        timezone: str,
        start: time = time(9),
        end: time = time(17),
        days: Iterable[int] = range(5),
        *,
        holidays: Iterable[date] = (),
        closures: Iterable[tuple[datetime, datetime]] = (),
    ) -> BusinessCalendar:
        """One window a day on the given weekdays (Monday to Friday by default)."""
        return cls(timezone, {day: [(start, end)] for day in days}, holidays, closures)

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar({self.timezone!r}, {self.weekly!r}, "
            f"holidays={len(self.holidays)}, closures={len(self.closures)})"
        )

    # Public operations.

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time inside ``[start, end)``; ``end`` before ``start`` is an error."""
        start_us = _instant(start, "start")
        end_us = _instant(end, "end")
        if end_us <= start_us:
            if end_us < start_us:
                raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
            return _ZERO
        if end_us - start_us > _MAX_SPAN:
            raise ValueError(f"between() covers at most {_MAX_SPAN_YEARS} years")
        index = start_us // _CHUNK
        last = (end_us - 1) // _CHUNK
        if last - index >= _FAST_CHUNKS:
            return timedelta(0, 0, self._between_spans(start_us, end_us))
        chunk = self._chunks.get(index) or self._chunk(index)
        if chunk is None:
            return timedelta(0, 0, self._between_spans(start_us, end_us))
        total = -_measure_to(chunk, start_us)
        while index < last:
            total += chunk[2][-1]
            index += 1
            chunk = self._chunks.get(index) or self._chunk(index)
            if chunk is None:
                return timedelta(0, 0, total + self._between_spans(index * _CHUNK, end_us))
        return timedelta(0, 0, total + _measure_to(chunk, end_us))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The first instant at which ``duration`` of business time has passed since ``start``.

        Raises ``NoBusinessTime`` (a ``ValueError``) when the calendar holds less than
        ``duration`` in the ten years after ``start``.
        """
        start_us = _instant(start, "start")
        if not isinstance(duration, timedelta):
            raise ValueError(f"duration must be a timedelta, got {duration!r}")
        need = duration // _ONE_US
        if need <= 0:
            if need < 0:
                raise ValueError(f"duration must not be negative, got {duration}")
            return start
        if self._week_total == 0:
            raise NoBusinessTime("the calendar has no business hours on any weekday")
        position = start_us  # where the uncached way takes over, if it must
        index = start_us // _CHUNK
        chunk = self._chunks.get(index) or self._chunk(index)
        if chunk is not None:
            # ``need`` becomes the business time wanted from the start of the current stretch.
            need += _measure_to(chunk, start_us)
            stop = min(index + _FAST_CHUNKS, _CHUNKS_END)
            while chunk is not None:
                starts, _ends, totals = chunk
                if need <= totals[-1]:
                    # The interval in which the running total reaches ``need``.
                    found = bisect.bisect_left(totals, need) - 1
                    answer = starts[found] + need - totals[found]
                    return (_EPOCH_UTC + timedelta(0, 0, answer)).astimezone(start.tzinfo)
                need -= totals[-1]
                index += 1
                if index >= stop:
                    break
                chunk = self._chunks.get(index) or self._chunk(index)
            position = min(index * _CHUNK, _LAST)
        found_at = self._add_spans(position, min(start_us + _MAX_SEARCH, _LAST), need)
        if found_at is not None:
            return (_EPOCH_UTC + timedelta(0, 0, found_at)).astimezone(start.tzinfo)
        raise NoBusinessTime(
            f"the calendar holds less than {duration} of business time in the "
            f"{_MAX_SEARCH_YEARS} years after {start.isoformat()}"
        )

    # The cache of business intervals per stretch of real time.

    def _chunk(self, index: int) -> _Chunk | None:
        """The business intervals of stretch ``index``, built and cached on first use.

        Only the part of the stretch inside the supported years is held. A new calendar's
        first ``_COLD_MISSES`` stretches asked for are not built but answered the uncached way
        (``None``): building one costs several uncached answers, and a calendar made for a
        single answer, or a few, would never use it.
        """
        if self._misses < _COLD_MISSES:
            self._misses += 1
            return None
        low = max(index * _CHUNK, _FIRST)
        high = min((index + 1) * _CHUNK, _LAST)
        starts: list[int] = []
        ends: list[int] = []
        windows = self._windows
        holidays = self._holiday_set
        for span_low, span_high, offset in _spans(self.zone, low, high):
            day = (span_low + offset) // _DAY
            last_day = (span_high - 1 + offset) // _DAY
            midnight = day * _DAY - offset  # the day's local midnight, as a UTC instant
            while day <= last_day:
                if day not in holidays:
                    for window_start, window_end in windows[day % 7]:
                        interval_start = max(midnight + window_start, span_low)
                        interval_end = min(midnight + window_end, span_high)
                        if interval_start >= interval_end:
                            continue
                        if ends and ends[-1] == interval_start:
                            ends[-1] = interval_end  # touching windows are one interval
                        else:
                            starts.append(interval_start)
                            ends.append(interval_end)
                day += 1
                midnight += _DAY
        closure = bisect.bisect_right(self._closure_ends, low)
        if closure < len(self._closure_starts) and self._closure_starts[closure] < high:
            parts = [
                part
                for interval in zip(starts, ends, strict=True)
                for part in self._open_parts(*interval)
            ]
            starts = [part_start for part_start, _ in parts]
            ends = [part_end for _, part_end in parts]
        totals = [0, *itertools.accumulate(map(operator.sub, ends, starts))]
        chunk = (starts, ends, totals)
        chunks = self._chunks
        # Drop the stretches built first; tolerant of another thread doing the same.
        while len(chunks) >= self._cache_chunks:
            try:
                del chunks[next(iter(chunks))]
            except (KeyError, RuntimeError, StopIteration):
                break
        chunks[index] = chunk
        return chunk

    # The uncached way, for long answers.

    def _between_spans(self, start: int, end: int) -> int:
        """Business time of the UTC interval ``[start, end)``, span by span."""
        return sum(
            self._measure(low, high, offset) for low, high, offset in _spans(self.zone, start, end)
        )

    def _add_spans(self, start: int, limit: int, need: int) -> int | None:
        """The instant at which ``need`` of business time has passed since ``start``, or None
        when ``[start, limit)`` holds less."""
        for low, high, offset in _spans(self.zone, start, limit):
            need, found = self._advance(low, high, offset, need)
            if found is not None:
                return found
        return None

    # Arithmetic on integer microseconds. "Wall" values are naive local times, UTC values real
    # instants; inside one constant-offset span, wall = utc + offset.

    def _day_part(self, day: int, low: int, high: int) -> int:
        """Business time of one local day between times of day ``low`` and ``high``."""
        if day in self._holiday_set:
            return 0
        total = 0
        for start, end in self._windows[day % 7]:
            if end > low and start < high:
                total += min(end, high) - max(start, low)
        return total

    def _whole_days(self, first: int, stop: int) -> int:
        """Business time of the local days ``first`` to ``stop - 1``, holidays removed."""
        count = stop - first
        if count <= 0:
            return 0
        weeks, rest = divmod(count, 7)
        total = weeks * self._week_total
        for day in range(first, first + rest):
            total += self._day_totals[day % 7]
        low = bisect.bisect_left(self._holiday_days, first)
        high = bisect.bisect_left(self._holiday_days, stop)
        return total - (self._holiday_prefix[high] - self._holiday_prefix[low])

    def _wall_measure(self, low: int, high: int) -> int:
        """Business time of the wall interval ``[low, high)``, closures not removed."""
        if low >= high:
            return 0
        first, first_time = divmod(low, _DAY)
        last, last_time = divmod(high, _DAY)
        if first == last:
            return self._day_part(first, first_time, last_time)
        return (
            self._day_part(first, first_time, _DAY)
            + self._whole_days(first + 1, last)
            + (self._day_part(last, 0, last_time) if last_time else 0)
        )

    def _closures_in(self, low: int, high: int) -> Iterator[tuple[int, int]]:
        """Merged closures overlapping the UTC interval ``[low, high)``, clipped to it."""
        index = bisect.bisect_right(self._closure_ends, low)
        while index < len(self._closure_starts) and self._closure_starts[index] < high:
            yield max(self._closure_starts[index], low), min(self._closure_ends[index], high)
            index += 1

    def _measure(self, low: int, high: int, offset: int) -> int:
        """Business time of the UTC interval ``[low, high)`` in which the offset is constant."""
        total = self._wall_measure(low + offset, high + offset)
        for closed_low, closed_high in self._closures_in(low, high):
            total -= self._wall_measure(closed_low + offset, closed_high + offset)
        return total

    def _advance(self, low: int, high: int, offset: int, need: int) -> tuple[int, int | None]:
        """Consume up to ``need`` of business time from ``[low, high)`` (UTC, constant offset).

        Answers ``(0, instant)`` when the need is met at ``instant``, else ``(rest, None)``.
        """
        # Skip whole weeks while more than a week's worth is needed: a week holds at most
        # ``_week_total``, so ``weeks * _week_total < need`` cannot overshoot the answer.
        while need > self._week_total and low < high:
            weeks = (need - 1) // self._week_total
            stop = min(low + weeks * _WEEK, high)
            need -= self._measure(low, stop, offset)
            low = stop
        while low < high:
            day = (low + offset) // _DAY
            if day not in self._holiday_set:
                for start, end in self._windows[day % 7]:
                    window_low = max(day * _DAY + start - offset, low)
                    window_high = min(day * _DAY + end - offset, high)
                    if window_low >= window_high:
                        continue
                    for open_low, open_high in self._open_parts(window_low, window_high):
                        if open_high - open_low >= need:
                            return 0, open_low + need
                        need -= open_high - open_low
            low = (day + 1) * _DAY - offset
        return need, None

    def _open_parts(self, low: int, high: int) -> Iterator[tuple[int, int]]:
        """The parts of the UTC interval ``[low, high)`` outside every closure, in order."""
        cursor = low
        for closed_low, closed_high in self._closures_in(low, high):
            if closed_low > cursor:
                yield cursor, closed_low
            cursor = closed_high
        if cursor < high:
            yield cursor, high
