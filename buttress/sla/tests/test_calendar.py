from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from buttress.sla.calendar import BusinessCalendar, NoBusinessTime

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
