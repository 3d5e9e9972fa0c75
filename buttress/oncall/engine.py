"""Who is on call: the pure schedule engine (no Django).

A schedule is a stack of layers in one IANA zone, with overrides and swaps on top:

* A **layer** rotates through its participants. Handoffs are wall-clock times in the zone:
  ``start`` (a local date and time) plus ``k * length`` for k = 0, 1, 2, ... (a day, a week,
  or a custom number of days or hours of wall-clock time), and the k-th shift goes to
  ``participants[k % len(participants)]``. A daily rotation at 09:00 therefore hands off at
  09:00 local time on both sides of a clock change, and the shift that spans the change lasts
  23 or 25 hours (a 12-hour rotation's shift 11 or 13 hours).
* **A handoff happens the first instant the zone's clock reads the handoff time or later.** In a
  spring-forward gap (02:30 on the night the clock jumps from 02:00 to 03:00) that is the end
  of the gap (03:00 new time); in a repeated autumn hour it is the first pass. Handoffs so never
  run backwards, and two handoffs inside one gap leave an empty shift, which is dropped.
* **Restrictions** are weekly windows of local time (weekday, start, end; an end of 00:00 is
  midnight at the end of the day). A restricted layer has its shift's owner on call only while
  the zone's clock shows a time inside a window, on both passes of a repeated hour; outside
  them the layer has nobody.
* **Layers** are ordered: where a higher layer has someone on call, it wins over every lower
  layer; where it has nobody, the next layer down decides.
* **Overrides** then apply in the order given (later wins): an override puts its user on call
  over ``[start, end)`` whoever was on call before, also where nobody was; a **swap** (an
  override that names the user it replaces) puts its user on call only where the replaced user
  was on call.

Every interval is half-open ``[start, end)`` and every instant is aware; answers are in UTC.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# One question covers at most this long (a year and a day, so a leap year fits).
MAX_RANGE = timedelta(days=367)
# Offsets change at most this often; the offset scan steps by this much and then bisects.
SCAN_STEP = timedelta(hours=1)
# Wider than any clock change on record (Samoa skipped a whole day in 2011).
MAX_JUMP = timedelta(hours=30)
MIN_YEAR, MAX_YEAR = 1971, 2199

Windows = dict[int, list[tuple[time, time]]]


class ScheduleError(ValueError):
    """A value the engine cannot work with, with a message fit for the user."""


def zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name or name != name.strip():
        raise ScheduleError(f"{name!r} is not a time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"{name!r} is not a known IANA time zone") from exc


@dataclass(frozen=True)
class Layer:
    key: int
    start: datetime  # naive: the first handoff on the zone's wall clock
    length: timedelta  # wall-clock time between handoffs: whole hours, at least one
    participants: tuple[int, ...]
    restrictions: Windows = field(default_factory=dict)  # empty: no restriction


@dataclass(frozen=True)
class Override:
    key: int
    start: datetime
    end: datetime
    user: int
    replaces: int | None = None  # a swap: only where this user was on call


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    user: int
    layer: int | None  # the layer it comes from, or None for an override
    override: int | None = None  # the override or swap that put the user there


# --- the zone's clock ------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """The zone's UTC offsets over a span: segments ``[start, end)`` with one offset each."""

    starts: list[datetime]
    ends: list[datetime]
    offsets: list[timedelta]

    @classmethod
    def over(cls, tz: ZoneInfo, start: datetime, end: datetime) -> Clock:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        starts, ends, offsets = [start], [], [_offset(tz, start)]
        for year in range(start.year, end.year + 1):
            for change, offset in _changes(tz, year):
                if start < change < end and offset != offsets[-1]:
                    ends.append(change)
                    starts.append(change)
                    offsets.append(offset)
        ends.append(end)
        return cls(starts, ends, offsets)

    def reach(self, wall: datetime) -> datetime | None:
        """The first instant at which the clock reads ``wall`` (naive) or later."""
        for start, end, offset in zip(self.starts, self.ends, self.offsets, strict=True):
            instant = (wall - offset).replace(tzinfo=UTC)
            if instant < end:
                return max(start, instant)
        return None

    def showing(self, wall_start: datetime, wall_end: datetime) -> list[tuple[datetime, datetime]]:
        """Every instant at which the clock reads a time in ``[wall_start, wall_end)``."""
        found = []
        for start, end, offset in zip(self.starts, self.ends, self.offsets, strict=True):
            lo = max(start, (wall_start - offset).replace(tzinfo=UTC))
            hi = min(end, (wall_end - offset).replace(tzinfo=UTC))
            if lo < hi:
                found.append((lo, hi))
        return found

    def wall(self, at: datetime) -> datetime:
        index = max(0, bisect.bisect_right(self.starts, at) - 1)
        return (at + self.offsets[index]).replace(tzinfo=None)


@functools.lru_cache(maxsize=4096)
def _changes(tz: ZoneInfo, year: int) -> tuple[tuple[datetime, timedelta], ...]:
    """Every UTC-offset change of the zone in the (UTC) year, with the offset after it: found
    once per zone and year by stepping and bisecting, then kept."""
    found = []
    probe = datetime(year, 1, 1, tzinfo=UTC)
    last = datetime(year + 1, 1, 1, tzinfo=UTC)
    before = _offset(tz, probe - timedelta(microseconds=1))
    if _offset(tz, probe) != before:
        found.append((probe, _offset(tz, probe)))
        before = _offset(tz, probe)
    while probe < last:
        following = min(probe + SCAN_STEP, last)
        if _offset(tz, following) != before:
            change = _first_change(tz, probe, following, before)
            before = _offset(tz, change)
            found.append((change, before))
        probe = following
    return tuple(found)


def _offset(tz: tzinfo, at: datetime) -> timedelta:
    return at.astimezone(tz).utcoffset() or timedelta(0)


def _first_change(tz: tzinfo, lo: datetime, hi: datetime, before: timedelta) -> datetime:
    """The first whole second in ``(lo, hi]`` whose offset is not ``before``."""
    low, high = 0, math.ceil((hi - lo).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(tz, lo + timedelta(seconds=middle)) == before:
            low = middle
        else:
            high = middle
    return lo + timedelta(seconds=high)


# --- layers ----------------------------------------------------------------------------------


def check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ScheduleError("give instants with a UTC offset")
    if end <= start:
        raise ScheduleError("the range ends before it starts")
    if end - start > MAX_RANGE:
        raise ScheduleError("ask for at most 367 days at a time")
    if start.year < MIN_YEAR or end.year > MAX_YEAR:
        raise ScheduleError(f"ask about {MIN_YEAR} to {MAX_YEAR}")


def check_layer(layer: Layer) -> None:
    if layer.start.tzinfo is not None:
        raise ScheduleError("a layer starts at a local (naive) date and time")
    if layer.length < timedelta(hours=1) or layer.length % timedelta(hours=1):
        raise ScheduleError("a shift lasts a whole number of hours, at least one")
    if layer.length > timedelta(days=366):
        raise ScheduleError("a shift lasts at most 366 days")
    if not layer.participants:
        raise ScheduleError("a layer needs at least one participant")
    for day, windows in layer.restrictions.items():
        if day not in range(7):
            raise ScheduleError(f"weekday {day} is not 0 (Monday) to 6 (Sunday)")
        for begin, finish in windows:
            if finish != time(0) and finish <= begin:
                raise ScheduleError(f"weekday {day}: a window ends before it starts")


def layer_shifts(clock: Clock, layer: Layer, start: datetime, end: datetime) -> list[Shift]:
    """The layer's shifts overlapping ``[start, end)``, cut by its restrictions and clipped."""
    check_layer(layer)
    shifts = []
    # The handoff in force at ``start`` is at most MAX_JUMP of wall clock before it.
    behind = (clock.wall(start) - MAX_JUMP - layer.start) / layer.length
    k = max(0, math.floor(behind))
    handoff = clock.reach(layer.start + k * layer.length)
    while handoff is not None and handoff < end:
        following = clock.reach(layer.start + (k + 1) * layer.length)
        shift_end = min(following, end) if following is not None else end
        shift_start = max(handoff, start)
        if shift_start < shift_end:
            user = layer.participants[k % len(layer.participants)]
            shifts.append(Shift(shift_start, shift_end, user, layer.key))
        handoff, k = following, k + 1
    if layer.restrictions:
        shifts = _restrict(shifts, restriction_intervals(clock, layer.restrictions, start, end))
    return shifts


def restriction_intervals(
    clock: Clock, restrictions: Windows, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The instants in ``[start, end)`` at which the clock shows a time in a window, merged."""
    first = (clock.wall(start) - MAX_JUMP).date()
    last = (clock.wall(end - timedelta(microseconds=1)) + MAX_JUMP).date()
    found: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        for begin, finish in restrictions.get(day.weekday(), ()):
            wall_start = datetime.combine(day, begin)
            wall_end = datetime.combine(
                day + timedelta(days=1) if finish == time(0) else day, finish
            )
            for lo, hi in clock.showing(wall_start, wall_end):
                lo, hi = max(lo, start), min(hi, end)
                if lo < hi:
                    found.append((lo, hi))
        day += timedelta(days=1)
    found.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in found:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _restrict(shifts: list[Shift], allowed: list[tuple[datetime, datetime]]) -> list[Shift]:
    cut = []
    for shift in shifts:
        index = max(0, bisect.bisect_right(allowed, (shift.start, shift.start)) - 1)
        while index < len(allowed) and allowed[index][0] < shift.end:
            lo, hi = max(allowed[index][0], shift.start), min(allowed[index][1], shift.end)
            if lo < hi:
                cut.append(Shift(lo, hi, shift.user, shift.layer))
            index += 1
    return cut


# --- the final schedule ----------------------------------------------------------------------


def final_shifts(
    zone_name: str,
    layers: Sequence[Layer],
    overrides: Sequence[Override],
    start: datetime,
    end: datetime,
) -> list[Shift]:
    """Who is on call over ``[start, end)``: ``layers`` lowest first, ``overrides`` in the
    order they apply. Adjacent pieces with the same user and source are joined."""
    check_range(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    tz = zone(zone_name)
    clock = Clock.over(tz, start - 2 * MAX_JUMP, end + 2 * MAX_JUMP)
    per_layer = [layer_shifts(clock, layer, start, end) for layer in layers]
    relevant = [o for o in overrides if o.start < end and o.end > start and o.start < o.end]
    cuts = {start, end}
    for shifts in per_layer:
        for shift in shifts:
            cuts.update((shift.start, shift.end))
    for override in relevant:
        cuts.update((max(override.start, start), min(override.end, end)))
    bounds = sorted(cuts)
    cursors = [0] * len(per_layer)
    pieces: list[Shift] = []
    for lo, hi in itertools.pairwise(bounds):
        current: Shift | None = None
        # Highest layer first: the first one with someone at ``lo`` decides.
        for index in range(len(per_layer) - 1, -1, -1):
            shifts = per_layer[index]
            while cursors[index] < len(shifts) and shifts[cursors[index]].end <= lo:
                cursors[index] += 1
            if cursors[index] < len(shifts) and shifts[cursors[index]].start <= lo:
                current = shifts[cursors[index]]
                break
        for override in relevant:
            if not override.start <= lo < override.end:
                continue
            if override.replaces is None or (
                current is not None and current.user == override.replaces
            ):
                current = Shift(lo, hi, override.user, None, override.key)
        if current is None:
            continue
        if (
            pieces
            and pieces[-1].end == lo
            and (pieces[-1].user, pieces[-1].layer, pieces[-1].override)
            == (current.user, current.layer, current.override)
        ):
            pieces[-1] = Shift(pieces[-1].start, hi, current.user, current.layer, current.override)
        else:
            pieces.append(Shift(lo, hi, current.user, current.layer, current.override))
    return pieces


def wall_start(day: date, at: time) -> datetime:
    """A layer's first handoff as the engine wants it: naive local date and time."""
    return datetime.combine(day, at)
