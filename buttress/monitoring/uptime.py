"""Uptime from a monitor's status history: the time up over the time known. No Django.

A monitor's history is its status before a period and the changes inside it. Within the
period each instant is counted by the status it had:

- up: ``up``, and ``late`` (a heartbeat still inside its grace period has not failed);
- down: ``down`` and ``flapping``;
- not counted: ``unknown`` (never checked, or just resumed), ``paused`` and ``unreachable``
  (a parent is down, so nothing is known of this one), and any time before the monitor existed.

Excluded intervals (maintenance) are taken out of both sides. The uptime is ``up / (up + down)``,
and None when nothing in the period was counted.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

UP_STATUSES = frozenset({"up", "late"})
DOWN_STATUSES = frozenset({"down", "flapping"})
ZERO = timedelta(0)

type Interval = tuple[datetime, datetime]
type Change = tuple[datetime, str]


@dataclass(frozen=True)
class Uptime:
    """The time up and down in ``[start, end)`` (excluded time and unknown time left out)."""

    start: datetime
    end: datetime
    up: timedelta = ZERO
    down: timedelta = ZERO

    @property
    def counted(self) -> timedelta:
        return self.up + self.down

    @property
    def fraction(self) -> float | None:
        """Up over counted time, from 0 to 1; None when no time was counted."""
        counted = self.counted
        if counted <= ZERO:
            return None
        return self.up / counted

    @property
    def percent(self) -> float | None:
        fraction = self.fraction
        return None if fraction is None else fraction * 100


def segments(
    initial: str | None, changes: Sequence[Change], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str | None]]:
    """The status over ``[start, end)`` as consecutive (from, to, status) pieces.

    ``initial`` is the status at ``start`` (None: the monitor did not exist yet or nothing is
    known); ``changes`` are (instant, new status) in time order. Changes outside the period
    are ignored except that one before ``start`` sets the status the period begins with.
    """
    pieces: list[tuple[datetime, datetime, str | None]] = []
    status = initial
    cursor = start
    for at, new in changes:
        if at <= start:
            status = new
            continue
        if at >= end:
            break
        if at > cursor:
            pieces.append((cursor, at, status))
            cursor = at
        status = new
    if cursor < end:
        pieces.append((cursor, end, status))
    return pieces


def _covered(
    excluded: Sequence[Interval], starts: Sequence[datetime], a: datetime, b: datetime
) -> timedelta:
    """How much of ``[a, b)`` the sorted, disjoint ``excluded`` intervals cover."""
    total = ZERO
    index = max(bisect_right(starts, a) - 1, 0)
    while index < len(excluded):
        begin, finish = excluded[index]
        if begin >= b:
            break
        overlap = min(finish, b) - max(begin, a)
        if overlap > ZERO:
            total += overlap
        index += 1
    return total


def merge(intervals: Sequence[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering the same instants; empty ones dropped."""
    merged: list[Interval] = []
    for begin, finish in sorted(i for i in intervals if i[1] > i[0]):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def measure(
    initial: str | None,
    changes: Sequence[Change],
    start: datetime,
    end: datetime,
    *,
    excluded: Sequence[Interval] = (),
) -> Uptime:
    """The uptime over ``[start, end)``; see the module's docstring for what counts."""
    return measure_periods(initial, changes, [(start, end)], excluded=excluded)[0]


def measure_periods(
    initial: str | None,
    changes: Sequence[Change],
    periods: Sequence[Interval],
    *,
    excluded: Sequence[Interval] = (),
) -> list[Uptime]:
    """The uptime of each of ``periods`` (in time order, not overlapping) from one history.

    ``initial`` is the status at the first period's start.
    """
    if not periods:
        return []
    blocked = merge(excluded)
    starts = [begin for begin, _ in blocked]
    first, last = periods[0][0], periods[-1][1]
    pieces = segments(initial, changes, first, max(first, last))
    results: list[Uptime] = []
    index = 0
    for period_start, period_end in periods:
        up = down = ZERO
        while index < len(pieces) and pieces[index][1] <= period_start:
            index += 1
        probe = index
        while probe < len(pieces) and pieces[probe][0] < period_end:
            begin, finish, status = pieces[probe]
            a, b = max(begin, period_start), min(finish, period_end)
            probe += 1
            if b <= a or (status not in UP_STATUSES and status not in DOWN_STATUSES):
                continue
            length = b - a - _covered(blocked, starts, a, b)
            if status in UP_STATUSES:
                up += length
            else:
                down += length
        results.append(Uptime(start=period_start, end=period_end, up=up, down=down))
    return results


def days(end: datetime, count: int) -> list[Interval]:
    """``count`` consecutive 24-hour periods ending at ``end``, oldest first."""
    day = timedelta(days=1)
    return [(end - day * (count - i), end - day * (count - i - 1)) for i in range(count)]
