"""Uptime arithmetic, checked against counting minute by minute."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.monitoring import uptime

T0 = datetime(2026, 3, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
STATUSES = ["up", "down", "late", "flapping", "unknown", "paused", "unreachable"]
HORIZON = 240


def at(minute: int) -> datetime:
    return T0 + MINUTE * minute


def oracle(
    initial: str | None,
    changes: list[tuple[int, str]],
    start: int,
    end: int,
    excluded: list[tuple[int, int]],
) -> tuple[int, int]:
    """(up minutes, down minutes) counted one minute at a time."""
    up = down = 0
    for minute in range(start, end):
        status = initial
        for when, new in changes:
            if when <= minute:
                status = new
        if any(a <= minute < b for a, b in excluded):
            continue
        if status in {"up", "late"}:
            up += 1
        elif status in {"down", "flapping"}:
            down += 1
    return up, down


changes_strategy = st.lists(
    st.tuples(st.integers(0, HORIZON), st.sampled_from(STATUSES)), max_size=12
).map(lambda items: sorted(items, key=lambda item: item[0]))
interval = st.tuples(st.integers(0, HORIZON), st.integers(0, 60)).map(
    lambda pair: (pair[0], pair[0] + pair[1])
)


@settings(max_examples=300)
@given(
    initial=st.one_of(st.none(), st.sampled_from(STATUSES)),
    changes=changes_strategy,
    bounds=st.tuples(st.integers(0, HORIZON), st.integers(1, HORIZON)),
    excluded=st.lists(interval, max_size=4),
)
def test_measure_matches_counting_minute_by_minute(initial, changes, bounds, excluded):
    start, length = bounds
    end = start + length
    # The status at the start is the initial one moved by every change up to it.
    status = initial
    for when, new in changes:
        if when <= start:
            status = new

    measured = uptime.measure(
        status,
        [(at(m), s) for m, s in changes],
        at(start),
        at(end),
        excluded=[(at(a), at(b)) for a, b in excluded],
    )

    up, down = oracle(status, changes, start, end, excluded)
    assert measured.up == MINUTE * up
    assert measured.down == MINUTE * down
    if up + down:
        assert measured.fraction == up / (up + down)
    else:
        assert measured.fraction is None


@settings(max_examples=200)
@given(
    initial=st.one_of(st.none(), st.sampled_from(STATUSES)),
    changes=changes_strategy,
    cuts=st.lists(st.integers(1, HORIZON), min_size=1, max_size=6, unique=True),
    excluded=st.lists(interval, max_size=3),
)
def test_periods_add_up_to_the_whole(initial, changes, cuts, excluded):
    edges = [0, *sorted(cuts)]
    periods = [(at(a), at(b)) for a, b in itertools.pairwise(edges)]
    history = [(at(m), s) for m, s in changes]
    blocked = [(at(a), at(b)) for a, b in excluded]
    first_status = initial
    for when, new in changes:
        if when <= 0:
            first_status = new

    parts = uptime.measure_periods(first_status, history, periods, excluded=blocked)
    whole = uptime.measure(first_status, history, at(0), at(edges[-1]), excluded=blocked)

    assert sum((p.up for p in parts), timedelta(0)) == whole.up
    assert sum((p.down for p in parts), timedelta(0)) == whole.down
    for part, (a, b) in zip(parts, itertools.pairwise(edges), strict=True):
        assert (part.up, part.down) == tuple(
            MINUTE * n for n in oracle(first_status, changes, a, b, excluded)
        )


@given(st.lists(interval, max_size=8))
def test_merge_gives_sorted_disjoint_intervals_covering_the_same_minutes(intervals):
    merged = uptime.merge([(at(a), at(b)) for a, b in intervals])

    covered = {m for a, b in intervals for m in range(a, b)}
    assert {m for a, b in merged for m in range((a - T0) // MINUTE, (b - T0) // MINUTE)} == covered
    assert all(a < b for a, b in merged)
    assert all(merged[i][1] < merged[i + 1][0] for i in range(len(merged) - 1))


def test_late_counts_as_up_and_paused_is_not_counted():
    measured = uptime.measure(
        "up", [(at(10), "late"), (at(20), "down"), (at(30), "paused")], at(0), at(60)
    )

    assert measured.up == MINUTE * 20
    assert measured.down == MINUTE * 10
    assert measured.fraction == 2 / 3


def test_days_are_consecutive_and_end_at_the_end():
    periods = uptime.days(at(0), 30)

    assert len(periods) == 30
    assert periods[-1][1] == at(0)
    assert all(periods[i][1] == periods[i + 1][0] for i in range(29))
