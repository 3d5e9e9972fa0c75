"""Heartbeat schedules: when the next ping is due, in simple and cron form, across DST changes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.monitoring.schedule import (
    Schedule,
    check_cron,
    check_seconds,
    check_zone,
    next_cron_time,
)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
# 2026 in New York: clocks jump 02:00 -> 03:00 on 8 March (07:00 UTC) and fall back
# 02:00 -> 01:00 on 1 November (06:00 UTC).
SPRING = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
AUTUMN = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_simple_schedule_expects_the_next_ping_a_period_after_the_last():
    schedule = Schedule(kind="simple", period=timedelta(hours=1), grace=timedelta(minutes=5))

    late_at, down_at = schedule.deadlines(last_ping_at=_utc(2026, 1, 1, 12), last_start_at=None)

    assert late_at == _utc(2026, 1, 1, 13)
    assert down_at == _utc(2026, 1, 1, 13, 5)


def test_a_running_job_is_down_grace_after_its_start_even_before_the_schedule_says_late():
    schedule = Schedule(kind="simple", period=timedelta(days=1), grace=timedelta(minutes=10))

    late_at, down_at = schedule.deadlines(
        last_ping_at=_utc(2026, 1, 1, 0), last_start_at=_utc(2026, 1, 1, 6)
    )

    assert late_at == _utc(2026, 1, 2, 0)
    assert down_at == _utc(2026, 1, 1, 6, 10)


def test_never_pinged_and_never_started_has_no_deadline():
    schedule = Schedule(kind="simple", grace=timedelta(minutes=10))

    assert schedule.deadlines(last_ping_at=None, last_start_at=None) == (None, None)


def test_cron_time_is_read_in_the_schedules_zone():
    # 09:00 in New York in January is 14:00 UTC.
    assert next_cron_time("0 9 * * *", NEW_YORK, _utc(2026, 1, 5, 12)) == _utc(2026, 1, 5, 14)


def test_daily_cron_keeps_its_wall_time_across_spring_forward():
    before = next_cron_time("0 9 * * *", NEW_YORK, _utc(2026, 3, 7, 15))
    after = next_cron_time("0 9 * * *", NEW_YORK, before)

    assert before == _utc(2026, 3, 8, 13)  # 09:00 EDT, the first day of summer time
    assert after == _utc(2026, 3, 9, 13)
    assert after - before == timedelta(days=1)


def test_a_wall_time_skipped_by_spring_forward_is_expected_when_the_clocks_jump():
    assert next_cron_time("30 2 * * *", NEW_YORK, _utc(2026, 3, 8, 5)) == SPRING


def test_a_repeated_wall_time_in_autumn_is_expected_once_at_its_first_pass():
    first = next_cron_time("30 1 * * *", NEW_YORK, _utc(2026, 11, 1, 5))
    following = next_cron_time("30 1 * * *", NEW_YORK, first)

    assert first == _utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert following == _utc(2026, 11, 2, 6, 30)  # not 01:30 EST the same night


def test_an_hourly_job_runs_in_both_passes_of_the_repeated_hour():
    # 01:45 EDT (05:45 UTC) has passed; 01:00 EST (06:00 UTC) is the next quarter hour.
    assert next_cron_time("*/15 * * * *", NEW_YORK, _utc(2026, 11, 1, 5, 46)) == AUTUMN
    assert next_cron_time("45 * * * *", NEW_YORK, _utc(2026, 11, 1, 5, 46)) == _utc(
        2026, 11, 1, 6, 45
    )


def test_cron_schedule_deadlines_use_the_next_cron_time_plus_grace():
    schedule = Schedule(
        kind="cron", cron="0 2 * * *", tz="Europe/London", grace=timedelta(minutes=30)
    )

    late_at, down_at = schedule.deadlines(last_ping_at=_utc(2026, 3, 28, 2, 1), last_start_at=None)

    # 29 March 2026: London goes to summer time at 01:00 UTC, so 02:00 BST is 01:00 UTC.
    assert late_at == _utc(2026, 3, 29, 1)
    assert down_at == _utc(2026, 3, 29, 1, 30)


def _oracle(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    """Minute by minute through real time: the first minute whose wall time the expression
    names (first pass only unless the hour is '*'), or that ends a gap hiding such a time."""
    every_hour = expression.split()[1] == "*"
    moment = after.replace(second=0, microsecond=0)
    previous_wall = moment.astimezone(zone).replace(tzinfo=None)
    while True:
        moment += timedelta(minutes=1)
        local = moment.astimezone(zone)
        wall = local.replace(tzinfo=None)
        repeated = (
            wall.replace(tzinfo=zone, fold=0).utcoffset()
            != wall.replace(tzinfo=zone, fold=1).utcoffset()
        )
        first_pass = local.fold == 0 or not repeated
        hidden = previous_wall + timedelta(minutes=1)
        skipped = []
        while hidden < wall:
            skipped.append(hidden)
            hidden += timedelta(minutes=1)
        previous_wall = wall
        if moment <= after:
            continue
        if croniter.match(expression, wall) and (first_pass or every_hour):
            return moment
        if any(croniter.match(expression, w) for w in skipped):
            return moment


@settings(max_examples=150, deadline=None)
@given(
    expression=st.sampled_from(
        ["*/15 * * * *", "30 2 * * *", "30 1 * * *", "45 * * * *", "0 */2 * * *", "5 1-3 * * *"]
    ),
    zone=st.sampled_from([NEW_YORK, LONDON, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]),
    change=st.sampled_from(
        [SPRING, AUTUMN, _utc(2026, 3, 29, 1), _utc(2026, 10, 25, 1), _utc(2026, 4, 4, 15)]
    ),
    offset_minutes=st.integers(min_value=-300, max_value=300),
    seconds=st.sampled_from([0, 17]),
)
def test_next_cron_time_matches_a_minute_stepping_oracle_around_clock_changes(
    expression: str, zone: ZoneInfo, change: datetime, offset_minutes: int, seconds: int
):
    after = change + timedelta(minutes=offset_minutes, seconds=seconds)

    assert next_cron_time(expression, zone, after) == _oracle(expression, zone, after)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("* * * *", "5 fields"),
        ("* * * * * *", "5 fields"),
        ("61 * * * *", "not a valid cron expression"),
        ("0 0 30 2 *", "never fires"),
        ("", "required"),
        (5, "required"),
    ],
)
def test_bad_cron_expressions_are_refused_naming_the_field(value, message):
    with pytest.raises(ValueError, match=rf"^schedule: .*{message}"):
        check_cron("schedule", value)


@pytest.mark.parametrize("name", ["Mars/Olympus", "localtime", "../etc/passwd", "/etc/localtime"])
def test_zone_must_be_an_iana_name(name):
    with pytest.raises(ValueError, match=r"^tz: .* is not an IANA time zone name"):
        check_zone("tz", name)


def test_an_iana_zone_is_accepted():
    assert check_zone("tz", "Europe/Berlin").key == "Europe/Berlin"


@pytest.mark.parametrize("value", [59, 365 * 24 * 3600 + 1, True, 60.5, "60"])
def test_period_and_grace_run_from_a_minute_to_a_year(value):
    with pytest.raises(ValueError, match=r"^period: "):
        check_seconds("period", value)


def test_period_bounds_themselves_are_allowed():
    assert check_seconds("grace", 60) == 60
    assert check_seconds("grace", 365 * 24 * 3600) == 365 * 24 * 3600
