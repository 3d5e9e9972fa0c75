"""Property tests of the engine against the brute-force oracle, around DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.sla.calendar import BusinessCalendar, NoBusinessTime
from buttress.sla.tests.oracle import MINUTE, Oracle

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",  # +05:30, no DST
    "Australia/Adelaide",  # +09:30 / +10:30
    "Australia/Lord_Howe",  # a DST change of thirty minutes
    "America/Santiago",  # changes at local midnight: some days start at 01:00
    "Pacific/Chatham",  # +12:45 / +13:45
]
# Days with a DST change in at least one of the zones above.
CHANGE_DAYS = [
    date(2025, 3, 9),
    date(2025, 3, 30),
    date(2025, 4, 6),
    date(2025, 9, 7),
    date(2025, 9, 28),
    date(2025, 10, 5),
    date(2025, 10, 26),
    date(2025, 11, 2),
]
AROUND = 14 * 24 * 60  # minutes either side of a change day
HORIZON = timedelta(days=10)  # how far the oracle looks for an add()'s answer


def _clock(minutes: int) -> time:
    return time(0) if minutes == 24 * 60 else time(minutes // 60, minutes % 60)


@st.composite
def days_windows(draw: st.DrawFn, step: int) -> list[tuple[time, time]]:
    marks = draw(st.lists(st.integers(0, 24 * 60 // step), unique=True, max_size=6))
    marks = sorted(mark * step for mark in marks)
    return [(_clock(a), _clock(b)) for a, b in zip(marks[::2], marks[1::2], strict=False)]


@st.composite
def settings_around_a_change(draw: st.DrawFn) -> tuple[BusinessCalendar, datetime]:
    zone = draw(st.sampled_from(ZONES))
    step = draw(st.sampled_from([15, 1]))
    weekly = {day: draw(days_windows(step)) for day in range(7)}
    base = datetime.combine(draw(st.sampled_from(CHANGE_DAYS)), time(), tzinfo=UTC)
    holidays = [
        base.date() + timedelta(days=offset)
        for offset in draw(st.lists(st.integers(-16, 16), max_size=4))
    ]
    closures = [
        (base + start * MINUTE, base + (start + length) * MINUTE)
        for start, length in draw(
            st.lists(
                st.tuples(st.integers(-AROUND, AROUND), st.integers(1, 3 * 24 * 60)), max_size=3
            )
        )
    ]
    return BusinessCalendar(zone, weekly, holidays, closures), base


instants_offsets = st.integers(-AROUND, AROUND)


@settings(max_examples=150, deadline=None)
@given(settings_around_a_change(), instants_offsets, st.integers(0, 8 * 24 * 60))
def test_between_matches_the_oracle(given_calendar, start_minute, length):
    calendar, base = given_calendar
    start = base + start_minute * MINUTE
    end = start + length * MINUTE

    measured = calendar.between(start, end)

    assert measured == Oracle(calendar).between(start, end)


@settings(max_examples=150, deadline=None)
@given(settings_around_a_change(), instants_offsets, st.integers(0, 3 * 24 * 60))
def test_add_matches_the_oracle(given_calendar, start_minute, minutes):
    calendar, base = given_calendar
    start = base + start_minute * MINUTE
    duration = minutes * MINUTE

    expected = Oracle(calendar).add(start, duration, HORIZON)

    if expected is not None:
        assert calendar.add(start, duration) == expected
    else:
        try:
            answer = calendar.add(start, duration)
        except NoBusinessTime:
            return
        assert answer > start + HORIZON


@st.composite
def exact_instants(draw: st.DrawFn, base: datetime) -> datetime:
    return base + timedelta(microseconds=draw(st.integers(-AROUND, AROUND)) * 60_000_000 // 7)


@settings(max_examples=300, deadline=None)
@given(settings_around_a_change(), st.data(), st.integers(0, 5 * 24 * 3600 * 10**6))
def test_add_then_between_gives_the_duration_back(given_calendar, data, microseconds):
    calendar, base = given_calendar
    start = data.draw(exact_instants(base))
    duration = timedelta(microseconds=microseconds)

    try:
        answer = calendar.add(start, duration)
    except NoBusinessTime:
        assert not any(calendar.weekly.values())
        return

    assert calendar.between(start, answer) == duration
    assert answer >= start


@settings(max_examples=300, deadline=None)
@given(settings_around_a_change(), st.data())
def test_between_adds_up_over_consecutive_intervals(given_calendar, data):
    calendar, base = given_calendar
    a, b, c = sorted(data.draw(exact_instants(base)) for _ in range(3))

    assert calendar.between(a, b) + calendar.between(b, c) == calendar.between(a, c)


@settings(max_examples=300, deadline=None)
@given(settings_around_a_change(), st.data())
def test_add_of_the_time_between_answers_no_later_than_the_end(given_calendar, data):
    calendar, base = given_calendar
    start, end = sorted(data.draw(exact_instants(base)) for _ in range(2))

    elapsed = calendar.between(start, end)

    answer = calendar.add(start, elapsed)
    assert answer <= end
    assert calendar.between(answer, end) == timedelta(0)
