from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.sla import calendar as calendar_module
from buttress.sla.calendar import BusinessCalendar, NoBusinessTime
from buttress.sla.tests.oracle import MINUTE, Oracle
from buttress.sla.tests.test_calendar_properties import AROUND, settings_around_a_change

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)


def london(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=LONDON)


def new_york(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=NEW_YORK)


def office() -> BusinessCalendar:
    return BusinessCalendar.office_hours("Europe/London")


def sundays(*windows: tuple[time, time], zone: str) -> BusinessCalendar:
    return BusinessCalendar(zone, {6: list(windows)})


def test_duration_running_out_at_a_window_end_answers_that_end():
    # 2025-06-02 is a Monday
    assert office().add(london(2025, 6, 2, 9), 8 * HOUR) == london(2025, 6, 2, 17)


def test_add_carries_over_the_weekend():
    assert office().add(london(2025, 6, 6, 16), 2 * HOUR) == london(2025, 6, 9, 10)


def test_add_from_outside_business_hours_starts_at_the_next_opening():
    assert office().add(london(2025, 6, 7, 12), HOUR) == london(2025, 6, 9, 10)


def test_between_counts_only_business_hours_across_a_weekend():
    assert office().between(london(2025, 6, 6, 16), london(2025, 6, 9, 10)) == 2 * HOUR


def test_zero_duration_answers_the_start_even_outside_business_hours():
    saturday = london(2025, 6, 7, 12)

    assert office().add(saturday, timedelta(0)) == saturday


def test_holiday_is_skipped():
    calendar = BusinessCalendar.office_hours("Europe/London", holidays=[date(2025, 6, 9)])

    assert calendar.add(london(2025, 6, 6, 16), 2 * HOUR) == london(2025, 6, 10, 10)
    assert calendar.between(london(2025, 6, 9, 0), london(2025, 6, 10, 0)) == timedelta(0)


def test_partial_closure_is_skipped():
    calendar = BusinessCalendar.office_hours(
        "Europe/London", closures=[(london(2025, 6, 2, 12), london(2025, 6, 2, 14))]
    )

    assert calendar.between(london(2025, 6, 2, 9), london(2025, 6, 2, 17)) == 6 * HOUR
    assert calendar.add(london(2025, 6, 2, 11), 2 * HOUR) == london(2025, 6, 2, 15)


def test_overlapping_closures_count_once():
    calendar = BusinessCalendar.office_hours(
        "Europe/London",
        closures=[
            (london(2025, 6, 2, 10), london(2025, 6, 2, 13)),
            (london(2025, 6, 2, 12), london(2025, 6, 2, 14)),
        ],
    )

    assert calendar.between(london(2025, 6, 2, 9), london(2025, 6, 2, 17)) == 4 * HOUR


def test_several_windows_a_day_skip_the_gap_between_them():
    calendar = BusinessCalendar("Europe/London", {0: [(time(13), time(17)), (time(9), time(12))]})

    assert calendar.add(london(2025, 6, 2, 11), 2 * HOUR) == london(2025, 6, 2, 14)
    assert calendar.add(london(2025, 6, 2, 11), HOUR) == london(2025, 6, 2, 12)
    assert calendar.between(london(2025, 6, 2, 0), london(2025, 6, 3, 0)) == 7 * HOUR


def test_touching_windows_are_one_stretch():
    calendar = BusinessCalendar("UTC", {0: [(time(9), time(12)), (time(12), time(17))]})
    monday = datetime(2025, 6, 2, 9, tzinfo=UTC)

    assert calendar.add(monday, 8 * HOUR) == datetime(2025, 6, 2, 17, tzinfo=UTC)


def test_midnight_end_joins_the_next_days_early_window():
    calendar = BusinessCalendar(
        "Europe/London", {0: [(time(22), time(0))], 1: [(time(0), time(2))]}
    )

    assert calendar.add(london(2025, 6, 2, 23), 2 * HOUR) == london(2025, 6, 3, 1)
    assert calendar.between(london(2025, 6, 2, 20), london(2025, 6, 3, 5)) == 4 * HOUR


def test_always_is_real_elapsed_time_across_dst():
    calendar = BusinessCalendar.always("Europe/London")
    start = london(2025, 3, 29, 12)

    assert calendar.between(start, london(2025, 3, 30, 12)) == 23 * HOUR
    assert calendar.add(start, 23 * HOUR) == london(2025, 3, 30, 12)
    assert calendar.between(london(2025, 10, 25, 12), london(2025, 10, 26, 12)) == 25 * HOUR


def test_london_spring_forward_window_holds_only_the_existing_time():
    # 2025-03-30: 01:00 GMT becomes 02:00 BST; 01:00-02:00 never happens.
    calendar = sundays((time(0, 30), time(1, 30)), zone="Europe/London")

    assert calendar.between(london(2025, 3, 30, 0), london(2025, 3, 30, 3)) == timedelta(minutes=30)
    assert calendar.add(london(2025, 3, 30, 0), timedelta(minutes=30)) == london(2025, 3, 30, 2)


def test_london_fall_back_window_counts_the_repeated_hour_twice():
    # 2025-10-26: 02:00 BST becomes 01:00 GMT; 01:00-02:00 happens twice.
    calendar = sundays((time(0, 30), time(1, 30)), zone="Europe/London")

    assert calendar.between(london(2025, 10, 26, 0), london(2025, 10, 26, 3)) == timedelta(
        minutes=90
    )
    answer = calendar.add(london(2025, 10, 26, 0, 30), timedelta(minutes=75))
    # 01:15 GMT, the second pass (compared in UTC: Python never equates fold instants across
    # zones, and within one zone ignores the fold)
    assert answer.astimezone(UTC) == datetime(2025, 10, 26, 1, 15, tzinfo=UTC)


def test_new_york_spring_forward_window_across_the_gap_is_shorter():
    # 2025-03-09: 02:00 EST becomes 03:00 EDT.
    calendar = sundays((time(1, 30), time(2, 30)), zone="America/New_York")

    assert calendar.between(new_york(2025, 3, 9, 0), new_york(2025, 3, 9, 5)) == timedelta(
        minutes=30
    )
    assert calendar.add(new_york(2025, 3, 9, 0), timedelta(minutes=30)) == new_york(2025, 3, 9, 3)


def test_new_york_fall_back_window_holds_four_real_hours():
    # 2025-11-02: 02:00 EDT becomes 01:00 EST.
    calendar = sundays((time(0), time(3)), zone="America/New_York")

    assert calendar.between(new_york(2025, 11, 2, 0), new_york(2025, 11, 2, 4)) == 4 * HOUR
    answer = calendar.add(new_york(2025, 11, 2, 0), 2 * HOUR)
    assert answer.astimezone(UTC) == datetime(2025, 11, 2, 6, tzinfo=UTC)  # 01:00 EST


def test_add_answers_in_the_zone_of_its_start():
    start = datetime(2025, 6, 2, 8, tzinfo=UTC)  # 09:00 in London

    answer = office().add(start, HOUR)

    assert answer.tzinfo is UTC
    assert answer == datetime(2025, 6, 2, 9, tzinfo=UTC)


def test_seconds_and_microseconds_are_exact():
    calendar = BusinessCalendar("Europe/London", {0: [(time(9, 0, 15), time(9, 0, 45, 500))]})
    start = london(2025, 6, 2, 9, 0, second=0, us=250_000)

    assert calendar.between(start, london(2025, 6, 2, 9, 0, second=20, us=1)) == timedelta(
        seconds=5, microseconds=1
    )
    assert calendar.add(start, timedelta(seconds=30, microseconds=500)) == london(
        2025, 6, 2, 9, 0, second=45, us=500
    )
    assert calendar.add(start, timedelta(seconds=30, microseconds=501)) == london(
        2025, 6, 9, 9, 0, second=15, us=1
    )


def test_sub_minute_start_inside_a_window_counts_the_rest_of_it():
    start = london(2025, 6, 2, 16, 59, second=59, us=999_999)

    assert office().between(start, london(2025, 6, 3, 9)) == timedelta(microseconds=1)
    assert office().add(start, timedelta(microseconds=2)) == london(
        2025, 6, 3, 9, 0, second=0, us=1
    )


def test_long_duration_skips_whole_weeks_exactly():
    start = london(2025, 6, 2, 9)
    holiday = date(2025, 8, 25)
    calendar = BusinessCalendar.office_hours("Europe/London", holidays=[holiday])

    answer = calendar.add(start, 1000 * HOUR)

    # 125 working days from Monday 2 June, one of them lost to the holiday.
    assert answer == london(2025, 11, 24, 17)
    assert calendar.between(start, answer) == 1000 * HOUR


def test_calendar_without_business_hours_refuses_to_add():
    calendar = BusinessCalendar("UTC", {})

    with pytest.raises(NoBusinessTime, match="no business hours"):
        calendar.add(datetime(2025, 1, 1, tzinfo=UTC), HOUR)


def test_add_gives_up_after_ten_years_of_closure():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    calendar = BusinessCalendar.office_hours(
        "UTC", closures=[(start, start + timedelta(days=365 * 11))]
    )

    with pytest.raises(NoBusinessTime, match="10 years"):
        calendar.add(start, HOUR)


def test_add_reaches_past_a_long_closure_within_the_bound():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    calendar = BusinessCalendar.office_hours(
        "UTC", closures=[(start, datetime(2030, 1, 7, tzinfo=UTC))]
    )

    assert calendar.add(start, HOUR) == datetime(2030, 1, 7, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("Mars/Olympus", {}), "unknown time zone 'Mars/Olympus'"),
        (("", {}), "unknown time zone"),
        (("UTC", {7: [(time(9), time(17))]}), "weekday keys are 0"),
        (("UTC", {-1: [(time(9), time(17))]}), "weekday keys are 0"),
        (("UTC", {0: [(time(17), time(9))]}), "must start before it ends"),
        (("UTC", {0: [(time(9), time(9))]}), "must start before it ends"),
        (("UTC", {0: [(time(9), time(12)), (time(11), time(13))]}), "windows overlap"),
        (("UTC", {0: [(time(9),)]}), "a window is a"),
        (("UTC", {0: [(time(9, tzinfo=UTC), time(17))]}), "must not carry a tzinfo"),
        (("UTC", {}, [datetime(2025, 1, 1, tzinfo=UTC)]), "holidays are dates"),
        (
            ("UTC", {}, (), [(datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))]),
            "must end after it starts",
        ),
        (
            ("UTC", {}, (), [(datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC))]),  # noqa: DTZ001
            "closure's start must be an aware datetime",
        ),
    ],
)
def test_invalid_calendar_is_refused_with_a_clear_message(arguments, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(*arguments)


def test_naive_datetimes_are_refused():
    naive = datetime(2025, 6, 2, 9)  # noqa: DTZ001

    with pytest.raises(ValueError, match="start must be an aware datetime"):
        office().add(naive, HOUR)
    with pytest.raises(ValueError, match="end must be an aware datetime"):
        office().between(london(2025, 6, 2, 9), naive)


def test_negative_duration_is_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        office().add(london(2025, 6, 2, 9), -HOUR)


def test_between_refuses_an_end_before_its_start():
    with pytest.raises(ValueError, match="is before start"):
        office().between(london(2025, 6, 2, 10), london(2025, 6, 2, 9))


def test_between_refuses_more_than_a_century():
    with pytest.raises(ValueError, match="at most 100 years"):
        office().between(london(1900, 1, 1), london(2001, 1, 1))


def test_instants_outside_the_supported_years_are_refused():
    with pytest.raises(ValueError, match="outside the years 2 to 9997"):
        office().add(datetime(9999, 1, 1, tzinfo=UTC), HOUR)


# The cache of business intervals per stretch of real time, and the uncached way beyond it.


def _utc_us(moment: datetime) -> int:
    return (moment - calendar_module._EPOCH_UTC) // timedelta(microseconds=1)


def _warmed(calendar: BusinessCalendar) -> BusinessCalendar:
    """The calendar, past the first answers a new one gives without its cache."""
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(calendar_module._COLD_MISSES + 1):
        calendar.between(moment, moment + HOUR)
    assert calendar._chunks
    return calendar


def _stretch_start_after(moment: datetime) -> datetime:
    """The first boundary between two cached stretches at or after ``moment``."""
    index = -(-_utc_us(moment) // calendar_module._CHUNK)
    return calendar_module._EPOCH_UTC + timedelta(microseconds=index * calendar_module._CHUNK)


def _weekdays_between(first: date, stop: date, holidays: frozenset[date] = frozenset()) -> int:
    """Working days (Monday to Friday, not holidays) from ``first`` to ``stop - 1 day``."""
    return sum(
        1
        for offset in range((stop - first).days)
        if (day := first + timedelta(days=offset)).weekday() < 5 and day not in holidays
    )


def test_answers_across_a_stretch_boundary_are_exact():
    boundary = _stretch_start_after(datetime(2025, 6, 1, tzinfo=UTC))
    assert boundary.time() == time(0)  # stretches start at UTC midnights
    night = {day: [(time(22), time(0)), (time(0), time(2))] for day in range(7)}
    calendar = _warmed(BusinessCalendar("UTC", night))
    always = _warmed(BusinessCalendar.always())
    micro = timedelta(microseconds=1)

    assert always.between(boundary - micro, boundary + micro) == 2 * micro
    assert always.add(boundary - micro, 2 * micro) == boundary + micro
    assert always.add(boundary - micro, micro) == boundary
    assert calendar.between(boundary - 2 * HOUR, boundary + 2 * HOUR) == 4 * HOUR
    assert calendar.between(boundary, boundary + 4 * HOUR) == 2 * HOUR
    assert calendar.between(boundary - 4 * HOUR, boundary) == 2 * HOUR
    assert calendar.add(boundary - HOUR, 3 * HOUR) == boundary + 2 * HOUR
    assert calendar.add(boundary - HOUR, HOUR) == boundary
    assert calendar.add(boundary, 2 * HOUR + micro) == boundary + 22 * HOUR + micro


def test_a_new_calendar_builds_its_cache_only_after_a_few_answers():
    calendar = office()
    start = london(2025, 6, 2, 9)

    for week in range(calendar_module._COLD_MISSES):
        assert calendar.add(start + timedelta(weeks=20 * week), 8 * HOUR).hour == 17
    assert not calendar._chunks

    assert calendar.add(start, 8 * HOUR) == london(2025, 6, 2, 17)
    assert list(calendar._chunks) == [_utc_us(start) // calendar_module._CHUNK]


def test_cold_and_warm_calendars_answer_alike():
    def make() -> BusinessCalendar:
        return BusinessCalendar(
            "America/New_York",
            {day: [(time(8), time(12)), (time(13), time(17, 30))] for day in range(5)},
            holidays=[date(2025, 11, 27), date(2025, 12, 25), date(2026, 1, 1)],
            closures=[(new_york(2025, 12, 24, 12), new_york(2025, 12, 26, 10))],
        )

    starts = [
        new_york(2025, 10, 1) + offset * timedelta(hours=37, minutes=11) for offset in range(60)
    ]
    durations = [timedelta(minutes=offset * 613) for offset in range(60)]
    warm = _warmed(make())
    for start, duration in zip(starts, durations, strict=True):
        warm.add(start, duration)
        warm.between(start, start + 3 * duration)

    for start, duration in zip(starts, durations, strict=True):
        cold = make()
        assert cold.add(start, duration) == warm.add(start, duration)
        assert cold.between(start, start + 3 * duration) == warm.between(
            start, start + 3 * duration
        )


def _last_working_day(stop: date, holidays: frozenset[date]) -> date:
    day = stop - timedelta(days=1)
    while day.weekday() >= 5 or day in holidays:
        day -= timedelta(days=1)
    return day


def test_long_between_crosses_year_ends_and_dst_both_ways():
    holidays = frozenset(
        {date(2025, 12, 25), date(2025, 12, 26), date(2026, 1, 1), date(2026, 4, 3)}
    )
    calendar = BusinessCalendar.office_hours("Europe/London", holidays=holidays)
    # Sunday 00:00-03:00 in New York: three hours, four on the fall-back Sunday, two on the
    # spring-forward one.
    night = sundays((time(0), time(3)), zone="America/New_York")

    for first, stop in [
        (date(2025, 9, 1), date(2025, 11, 3)),  # 63 days, over the October change
        (date(2025, 12, 1), date(2026, 4, 30)),  # a year end and the March change
        (date(2025, 3, 1), date(2027, 3, 1)),  # two years: longer than the cached way reaches
    ]:
        expected = 8 * HOUR * _weekdays_between(first, stop, holidays)
        start = london(first.year, first.month, first.day)
        end = london(stop.year, stop.month, stop.day)
        last = _last_working_day(stop, holidays)

        assert calendar.between(start, end) == expected
        assert calendar.add(start, expected) == london(last.year, last.month, last.day, 17)

    assert night.between(new_york(2025, 10, 1), new_york(2025, 12, 1)) == (9 * 3 + 1) * HOUR
    assert night.between(new_york(2026, 2, 1), new_york(2026, 4, 1)) == (9 * 3 - 1) * HOUR
    assert night.between(new_york(2025, 10, 1), new_york(2027, 10, 1)) == 104 * 3 * HOUR
    assert night.add(new_york(2025, 10, 1), (9 * 3 + 1) * HOUR) == datetime(
        2025, 11, 30, 8, tzinfo=UTC
    )


def test_long_add_goes_on_beyond_the_cached_stretches():
    holidays = frozenset({date(2026, 5, 4), date(2026, 12, 25), date(2027, 1, 1)})
    calendar = BusinessCalendar.office_hours("Europe/London", holidays=holidays)
    start = london(2025, 6, 2, 9)

    for days in [1, 40, 250, 420, 700]:
        answer = calendar.add(start, days * 8 * HOUR)
        assert answer.hour == 17
        assert (
            _weekdays_between(date(2025, 6, 2), answer.date() + timedelta(days=1), holidays) == days
        )
        assert calendar.between(start, answer) == days * 8 * HOUR


def test_many_windows_a_day_match_the_oracle():
    # 72 ten-minute windows a day, every twenty minutes.
    windows = [
        (time(hour, minute), time(hour, minute + 10))
        for hour in range(24)
        for minute in (0, 20, 40)
    ]
    calendar = BusinessCalendar(
        "Europe/London",
        dict.fromkeys(range(7), windows),
        holidays=[date(2025, 10, 27)],
        closures=[(london(2025, 10, 25, 12, 5), london(2025, 10, 25, 14, 55))],
    )
    oracle = Oracle(calendar)
    start = london(2025, 10, 25, 7, 3)

    for minutes in [0, 7, 10, 11, 600, 2000, 3000]:
        end = start + minutes * MINUTE
        assert calendar.between(start, end) == oracle.between(start, end)
        duration = minutes * MINUTE
        assert calendar.add(start, duration) == oracle.add(start, duration, timedelta(days=10))
    # Twelve hours a day; the fall-back day's repeated 01:00-02:00 holds half an hour more, the
    # spring-forward day half an hour less; the holiday and 85 closed minutes count nothing.
    year = calendar.between(london(2025, 1, 1), london(2026, 1, 1))
    assert year == 364 * 12 * HOUR - 85 * MINUTE


def test_the_cache_stays_bounded():
    windows = [
        (time(hour, minute), time(hour, minute + 1))
        for hour in range(24)
        for minute in range(0, 60, 2)
    ]
    many = BusinessCalendar("UTC", dict.fromkeys(range(7), windows))
    office_calendar = office()
    start = datetime(2025, 1, 1, tzinfo=UTC)

    for week in range(0, 52 * 20, 3):
        moment = start + week * timedelta(weeks=1)
        office_calendar.between(moment, moment + timedelta(days=30))
        if week < 52 * 2:
            many.between(moment, moment + timedelta(days=1))

    assert len(office_calendar._chunks) == calendar_module._CACHE_CHUNKS
    held = sum(len(starts) for starts, _, _ in many._chunks.values())
    assert len(many._chunks) >= 2
    assert held <= calendar_module._CACHE_INTERVALS
    # Dropped stretches are built again with the same answers.
    assert many.between(start, start + timedelta(days=1)) == 12 * HOUR
    assert office_calendar.between(start, start + timedelta(days=7)) == 5 * 8 * HOUR


def test_the_ends_of_the_supported_years_are_reachable():
    always = BusinessCalendar.always()
    last_hour = datetime(9997, 12, 31, 23, tzinfo=UTC)

    assert always.add(last_hour, HOUR) == datetime(9998, 1, 1, tzinfo=UTC)
    with pytest.raises(NoBusinessTime):
        always.add(last_hour, HOUR + timedelta(microseconds=1))
    assert always.between(last_hour, datetime(9998, 1, 1, tzinfo=UTC)) == HOUR
    first = datetime(2, 1, 1, tzinfo=UTC)
    assert always.between(first, first + 24 * HOUR) == 24 * HOUR
    assert always.add(first, 24 * HOUR) == first + 24 * HOUR


ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    weekly = {}
    for day in range(7):
        marks = sorted(draw(st.lists(st.integers(0, 24 * 4), unique=True, max_size=6)))
        weekly[day] = [
            (
                time(start // 4, start % 4 * 15),
                time(0) if end == 96 else time(end // 4, end % 4 * 15),
            )
            for start, end in zip(marks[::2], marks[1::2], strict=False)
        ]
    base = datetime(2025, 1, 1, tzinfo=UTC)
    holidays = [
        date(2025, 1, 1) + timedelta(days=offset)
        for offset in draw(st.lists(st.integers(0, 900), max_size=40))
    ]
    closures = [
        (base + timedelta(hours=start), base + timedelta(hours=start + length))
        for start, length in draw(
            st.lists(st.tuples(st.integers(0, 900 * 24), st.integers(1, 24 * 60)), max_size=4)
        )
    ]
    return BusinessCalendar(draw(st.sampled_from(ZONES)), weekly, holidays, closures)


instants = st.integers(0, 800 * 24 * 3600 * 10**6).map(
    lambda us: datetime(2025, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
)


@settings(max_examples=200, deadline=None)
@given(calendars(), instants, st.integers(0, 700 * 24 * 3600 * 10**6))
def test_cached_between_equals_the_uncached_way(calendar, start, length):
    end = start + timedelta(microseconds=length)
    _warmed(calendar)

    measured = calendar.between(start, end)

    assert measured == timedelta(microseconds=calendar._between_spans(_utc_us(start), _utc_us(end)))


@settings(max_examples=200, deadline=None)
@given(calendars(), instants, st.integers(1, 4000 * 3600 * 10**6))
def test_cached_add_equals_the_uncached_way(calendar, start, microseconds):
    _warmed(calendar)
    start_us = _utc_us(start)
    limit = start_us + calendar_module._MAX_SEARCH
    expected = None
    if calendar._week_total:
        expected = calendar._add_spans(start_us, limit, microseconds)

    try:
        answer = calendar.add(start, timedelta(microseconds=microseconds))
    except NoBusinessTime:
        assert expected is None
        return
    assert _utc_us(answer) == expected


@settings(max_examples=150, deadline=None)
@given(settings_around_a_change(), st.integers(-AROUND, AROUND), st.integers(0, 4 * 24 * 60))
def test_a_warm_calendar_matches_the_oracle_around_dst_changes(given_calendar, offset, minutes):
    calendar, base = given_calendar
    _warmed(calendar)
    oracle = Oracle(calendar)
    start = base + offset * MINUTE
    length = minutes * MINUTE

    assert calendar.between(start, start + length) == oracle.between(start, start + length)
    expected = oracle.add(start, length, timedelta(days=10))
    if expected is not None:
        assert calendar.add(start, length) == expected
