"""The recurrence engine, against a plain-arithmetic oracle and at DST changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.maintenance import occurrences as engine

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
BERLIN = "Europe/Berlin"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def oracle(
    starts_at: datetime, duration: timedelta, tz: str, step_days: int, count: int
) -> list[tuple[datetime, datetime]]:
    """Every occurrence of 'every ``step_days`` days, ``count`` times', by date arithmetic on
    the local wall clock (a gap time read with the offset before it)."""
    wall = starts_at.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    found = [(starts_at, starts_at + duration)]
    for i in range(1, count):
        local = (wall + timedelta(days=i * step_days)).replace(tzinfo=ZoneInfo(tz), fold=0)
        begin = local.astimezone(UTC)
        found.append((begin, begin + duration))
    return found


def overlapping(spans, start, end):
    return [(b, e) for b, e in spans if b < end and e > start]


# Hypothesis draws naive datetimes between naive bounds; they are made UTC below.
instants = st.datetimes(
    min_value=utc(2024, 1, 1).replace(tzinfo=None), max_value=utc(2027, 12, 31).replace(tzinfo=None)
).map(lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC))
durations = st.integers(min_value=1, max_value=3 * 24 * 60).map(lambda m: timedelta(minutes=m))
rules = st.tuples(st.sampled_from(["DAILY", "WEEKLY"]), st.integers(1, 4), st.integers(1, 60))


@settings(max_examples=300, deadline=None)
@given(
    starts_at=instants,
    duration=durations,
    tz=st.sampled_from(ZONES),
    rule=rules,
    offset=st.integers(-30 * 24 * 60, 400 * 24 * 60),
    length=st.integers(1, 200 * 24 * 60),
)
def test_occurrences_match_wall_clock_date_arithmetic(  # noqa: PLR0917 - hypothesis
    starts_at, duration, tz, rule, offset, length
):
    freq, interval, count = rule
    step = interval * (7 if freq == "WEEKLY" else 1)
    start = starts_at + timedelta(minutes=offset)
    end = start + timedelta(minutes=length)

    found = engine.occurrences(
        starts_at, duration, tz, f"FREQ={freq};INTERVAL={interval};COUNT={count}", start, end
    )

    assert found == overlapping(oracle(starts_at, duration, tz, step, count), start, end)


@settings(max_examples=200, deadline=None)
@given(
    starts_at=instants,
    duration=durations,
    tz=st.sampled_from(ZONES),
    rule=rules,
    cut=st.integers(0, 200 * 24 * 60),
    after=st.integers(-3 * 24 * 60, 300 * 24 * 60),
)
def test_edges_and_split_periods_agree_with_the_full_expansion(  # noqa: PLR0917
    starts_at, duration, tz, rule, cut, after
):
    freq, interval, count = rule
    text = f"FREQ={freq};INTERVAL={interval};COUNT={count}"
    everything = engine.occurrences(starts_at, duration, tz, text, utc(2000, 1, 1), utc(2100, 1, 1))
    middle = starts_at + timedelta(minutes=cut)
    before = engine.occurrences(starts_at, duration, tz, text, utc(2000, 1, 1), middle)
    later = engine.occurrences(starts_at, duration, tz, text, middle, utc(2100, 1, 1))
    moment = starts_at + timedelta(minutes=after)
    edges = sorted({edge for span in everything for edge in span})

    assert sorted(set(before) | set(later)) == everything
    assert engine.next_edge(starts_at, duration, tz, text, moment) == next(
        (edge for edge in edges if edge > moment), None
    )
    assert engine.edges_between(
        starts_at, duration, tz, text, after=moment, until=moment + timedelta(days=20)
    ) == [edge for edge in edges if moment < edge <= moment + timedelta(days=20)]
    assert engine.last_end(starts_at, duration, tz, text) == everything[-1][1]


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(1, 100)).map(
            lambda p: (
                (utc(2026, 1, 1) + timedelta(minutes=p[0]),) * 1
                + (utc(2026, 1, 1) + timedelta(minutes=p[0] + p[1]),)
            )
        ),
        max_size=20,
    )
)
def test_merge_covers_the_same_minutes_with_disjoint_sorted_intervals(spans):
    merged = engine.merge(spans)

    def minutes(intervals):
        base = utc(2026, 1, 1)
        return {
            m
            for b, e in intervals
            for m in range(
                int((b - base).total_seconds() // 60), int((e - base).total_seconds() // 60)
            )
        }

    assert minutes(merged) == minutes(spans)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))


def test_weekly_window_stays_at_two_oclock_local_across_the_spring_change():
    # Sunday 2026-03-22 02:00 CET; clocks go forward on 2026-03-29 (02:00 -> 03:00).
    first = datetime(2026, 3, 22, 2, 0, tzinfo=ZoneInfo(BERLIN))

    found = engine.occurrences(
        first, timedelta(hours=1), BERLIN, "FREQ=WEEKLY;BYDAY=SU;COUNT=4", first, utc(2027, 1, 1)
    )

    local = [begin.astimezone(ZoneInfo(BERLIN)) for begin, _ in found]
    assert [(d.day, d.hour) for d in local] == [(22, 2), (29, 3), (5, 2), (12, 2)]
    assert [begin.hour for begin, _ in found] == [1, 1, 0, 0]
    assert all(end - begin == timedelta(hours=1) for begin, end in found)


def test_a_start_in_the_gap_reads_with_the_offset_before_it():
    # 02:30 does not exist on 2026-03-29 in Berlin: it is read as 02:30 CET = 03:30 CEST.
    first = utc(2026, 3, 28, 1, 30)  # Saturday 02:30 CET

    found = engine.occurrences(
        first, timedelta(hours=1), BERLIN, "FREQ=DAILY;COUNT=3", first, utc(2027, 1, 1)
    )

    assert [begin for begin, _ in found] == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 30, 0, 30),
    ]


def test_a_start_in_the_repeated_autumn_hour_takes_the_first_one():
    first = utc(2026, 10, 24, 0, 30)  # Saturday 02:30 CEST; 2026-10-25 repeats 02:00-03:00

    found = engine.occurrences(
        first, timedelta(minutes=30), BERLIN, "FREQ=DAILY;COUNT=2", first, utc(2027, 1, 1)
    )

    assert found[1][0] == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not 02:30 CET


def test_until_in_utc_and_local_dates_are_both_understood():
    first = utc(2026, 1, 5, 22, 0)

    in_utc = engine.occurrences(
        first,
        timedelta(hours=1),
        "UTC",
        "FREQ=DAILY;UNTIL=20260107T220000Z",
        first,
        utc(2027, 1, 1),
    )
    canonical = engine.canonical_rule("rrule:freq=daily;until=20260107", BERLIN)

    assert len(in_utc) == 3
    assert canonical == "FREQ=DAILY;UNTIL=20260107T225959Z"


def test_a_one_off_window_is_its_single_occurrence():
    first = utc(2026, 5, 1, 8, 0)

    assert engine.occurrences(
        first, timedelta(hours=2), "UTC", "", utc(2026, 5, 1, 9), utc(2026, 5, 1, 9, 1)
    ) == [(first, utc(2026, 5, 1, 10))]
    assert (
        engine.occurrences(
            first, timedelta(hours=2), "UTC", "", utc(2026, 5, 1, 10), utc(2026, 5, 2)
        )
        == []
    )


def test_expansion_is_bounded():
    first = utc(2026, 1, 1)

    with pytest.raises(engine.TooManyOccurrences):
        engine.occurrences(
            first, timedelta(minutes=5), "UTC", "FREQ=HOURLY", first, utc(2030, 1, 1)
        )
    with pytest.raises(engine.TooManyOccurrences):
        engine.occurrences(
            first, timedelta(minutes=5), "UTC", "FREQ=HOURLY", utc(2040, 1, 1), utc(2040, 1, 2)
        )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=MINUTELY", "at most hourly"),
        ("FREQ=SECONDLY", "at most hourly"),
        ("DTSTART=20260101T000000;FREQ=DAILY", "DTSTART"),
        ("FREQ=FORTNIGHTLY", "Not a valid RRULE"),
        ("BYDAY=MO", "Not a valid RRULE"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL"),
        ("FREQ=DAILY\nFREQ=WEEKLY", "one line"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(rule, message):
    def check() -> None:
        canonical = engine.canonical_rule(rule, "UTC")
        engine.first_occurrence(utc(2026, 1, 1), timedelta(hours=1), "UTC", canonical)

    with pytest.raises(engine.RecurrenceError, match=message):
        check()


def test_unknown_zone_and_durations_out_of_range_are_refused():
    with pytest.raises(engine.RecurrenceError, match="IANA"):
        engine.zone("Mars/Olympus")
    with pytest.raises(engine.RecurrenceError, match="1 minute to 31 days"):
        engine.check_duration(timedelta(seconds=59))
    with pytest.raises(engine.RecurrenceError, match="1 minute to 31 days"):
        engine.check_duration(timedelta(days=31, seconds=1))
