"""The schedule engine against a minute-stepping oracle, and its documented edge cases."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buttress.oncall import engine
from buttress.oncall.engine import Layer, Override

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Apia",
    "Pacific/Chatham",
    "America/St_Johns",
    "Asia/Kolkata",
    "UTC",
]
MINUTE = timedelta(minutes=1)


# --- the oracle ------------------------------------------------------------------------------


Who = tuple[int, int | None, int | None] | None


def oracle(
    zone_name: str,
    layers: list[Layer],
    overrides: list[Override],
    start: datetime,
    end: datetime,
) -> dict[datetime, Who]:
    """Who is on call at each minute, from the definition: a handoff has happened once the
    clock has shown its time (the highest reading so far), a restriction holds while the clock
    shows a time inside a window."""
    tz = ZoneInfo(zone_name)
    answer: dict[datetime, Who] = {}
    current: Who
    at = start - timedelta(days=2)
    highest = None
    while at < end:
        wall = at.astimezone(tz).replace(tzinfo=None)
        highest = wall if highest is None else max(highest, wall)
        if at >= start:
            current = None
            for layer in reversed(layers):
                if highest < layer.start:
                    continue
                k = math.floor((highest - layer.start) / layer.length)
                if layer.restrictions and not _inside(layer.restrictions, wall):
                    continue
                current = (layer.participants[k % len(layer.participants)], layer.key, None)
                break
            for override in overrides:
                if override.start <= at < override.end and (
                    override.replaces is None
                    or (current is not None and current[0] == override.replaces)
                ):
                    current = (override.user, None, override.key)
            answer[at] = current
        at += MINUTE
    return answer


def _inside(restrictions: engine.Windows, wall: datetime) -> bool:
    for begin, finish in restrictions.get(wall.weekday(), []):
        if wall.time() >= begin and (finish == time(0) or wall.time() < finish):
            return True
    return False


def _by_minute(shifts: list[engine.Shift], start: datetime, end: datetime) -> dict[datetime, Who]:
    answer: dict[datetime, Who] = {}
    at = start
    for shift in shifts:
        while at < shift.start:
            answer[at] = None
            at += MINUTE
        while at < shift.end:
            answer[at] = (shift.user, shift.layer, shift.override)
            at += MINUTE
    while at < end:
        answer[at] = None
        at += MINUTE
    return answer


def _next_change(zone_name: str, after: datetime) -> datetime:
    """The next UTC-offset change within about a year (or ``after`` for a zone without)."""
    tz = ZoneInfo(zone_name)
    before = after.astimezone(tz).utcoffset()
    probe = after
    for _ in range(400 * 24):
        probe += timedelta(hours=1)
        if probe.astimezone(tz).utcoffset() != before:
            return probe.replace(minute=0)
    return after


# --- strategies ------------------------------------------------------------------------------

windows = st.lists(
    st.tuples(st.integers(0, 23 * 4), st.integers(1, 24 * 4)).map(
        lambda pair: (
            time(pair[0] // 4, pair[0] % 4 * 15),
            time(0) if pair[0] + pair[1] >= 96 else time(*divmod((pair[0] + pair[1]) * 15, 60)),
        )
    ),
    max_size=2,
).map(lambda found: sorted(set(found)))


@st.composite
def layers(draw: st.DrawFn, key: int, near: datetime, tz: ZoneInfo) -> Layer:
    wall = near.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    start = wall - timedelta(minutes=draw(st.integers(0, 20 * 24 * 60)))
    if draw(st.booleans()):
        length = timedelta(days=draw(st.sampled_from([1, 1, 7, 2, 3])))
    else:
        length = timedelta(hours=draw(st.integers(1, 36)))
    participants = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    restrictions = {}
    if draw(st.booleans()):
        for day in draw(st.sets(st.integers(0, 6), min_size=1)):
            found = draw(windows)
            # Windows of one day must not overlap (the services refuse that).
            kept: list[tuple[time, time]] = []
            for begin, finish in found:
                if all(
                    (finish != time(0) and finish <= b) or (e != time(0) and begin >= e)
                    for b, e in kept
                ):
                    kept.append((begin, finish))
            restrictions[day] = sorted(kept)
    return Layer(key, start, length, participants, restrictions)


@st.composite
def schedules(draw: st.DrawFn):
    zone_name = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone_name)
    year_start = datetime(draw(st.integers(2005, 2035)), 1, 1, tzinfo=UTC)
    near = _next_change(zone_name, year_start + timedelta(days=draw(st.integers(0, 364))))
    start = near - timedelta(minutes=draw(st.integers(0, 36 * 60)))
    end = start + timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
    stack = [draw(layers(key, near, tz)) for key in range(1, draw(st.integers(1, 3)) + 1)]
    overrides = []
    for key in range(100, 100 + draw(st.integers(0, 3))):
        begin = start + timedelta(minutes=draw(st.integers(-600, 3 * 24 * 60)))
        finish = begin + timedelta(minutes=draw(st.integers(1, 24 * 60)))
        replaces = draw(st.none() | st.integers(1, 5))
        overrides.append(Override(key, begin, finish, draw(st.integers(1, 6)), replaces))
    return zone_name, stack, overrides, start, end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_final_shifts_match_the_minute_oracle(schedule):
    zone_name, stack, overrides, start, end = schedule

    shifts = engine.final_shifts(zone_name, stack, overrides, start, end)

    assert _by_minute(shifts, start, end) == oracle(zone_name, stack, overrides, start, end)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_shifts_are_sorted_disjoint_and_joined(schedule):
    zone_name, stack, overrides, start, end = schedule

    shifts = engine.final_shifts(zone_name, stack, overrides, start, end)

    for shift in shifts:
        assert start <= shift.start < shift.end <= end
    for before, after in itertools.pairwise(shifts):
        assert before.end <= after.start
        if before.end == after.start:
            assert (before.user, before.layer, before.override) != (
                after.user,
                after.layer,
                after.override,
            )


# --- examples of the documented semantics ----------------------------------------------------

BERLIN = "Europe/Berlin"


def _daily(start: date, at: time, people: tuple[int, ...], **kwargs) -> Layer:
    return Layer(1, datetime.combine(start, at), timedelta(days=1), people, **kwargs)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_daily_handoff_stays_at_nine_local_across_spring_forward():
    layer = _daily(date(2026, 3, 27), time(9), (1, 2))

    shifts = engine.final_shifts(BERLIN, [layer], [], _utc(2026, 3, 28, 0), _utc(2026, 3, 31, 0))

    handoffs = [s.start.astimezone(ZoneInfo(BERLIN)).strftime("%d %H:%M %Z") for s in shifts[1:]]
    assert handoffs == ["28 09:00 CET", "29 09:00 CEST", "30 09:00 CEST"]
    # The shift over the change lasts 23 hours.
    assert shifts[1].end - shifts[1].start == timedelta(hours=23)


def test_daily_handoff_stays_at_nine_local_across_fall_back():
    layer = _daily(date(2026, 10, 20), time(9), (1, 2))

    shifts = engine.final_shifts(BERLIN, [layer], [], _utc(2026, 10, 24, 7), _utc(2026, 10, 26, 9))

    # 09:00 CEST is 07:00Z, 09:00 CET 08:00Z.
    assert [s.start for s in shifts] == [
        _utc(2026, 10, 24, 7),
        _utc(2026, 10, 25, 8),
        _utc(2026, 10, 26, 8),
    ]
    assert shifts[0].end - shifts[0].start == timedelta(hours=25)


def test_handoff_in_the_gap_happens_when_the_clock_jumps():
    layer = _daily(date(2026, 3, 20), time(2, 30), (1, 2))

    shifts = engine.final_shifts(BERLIN, [layer], [], _utc(2026, 3, 29, 0), _utc(2026, 3, 29, 2))

    # 02:30 does not exist on 29 March; the clock jumps from 02:00 CET to 03:00 CEST at 01:00Z.
    assert [s.start for s in shifts] == [_utc(2026, 3, 29, 0), _utc(2026, 3, 29, 1)]


def test_handoff_in_the_repeated_hour_takes_the_first_pass():
    layer = _daily(date(2026, 10, 20), time(2, 30), (1, 2))

    shifts = engine.final_shifts(BERLIN, [layer], [], _utc(2026, 10, 24, 22), _utc(2026, 10, 25, 4))

    # 02:30 CEST is 00:30Z; the second 02:30 (CET, 01:30Z) is no second handoff.
    assert [s.start for s in shifts] == [_utc(2026, 10, 24, 22), _utc(2026, 10, 25, 0, 30)]


def test_higher_layer_wins_where_it_has_someone():
    base = _daily(date(2026, 1, 1), time(9), (1,))
    office = Layer(
        2,
        engine.wall_start(date(2026, 1, 5), time(9)),
        timedelta(days=7),
        (2,),
        {day: [(time(9), time(17))] for day in range(5)},
    )

    shifts = engine.final_shifts("UTC", [base, office], [], _utc(2026, 1, 5), _utc(2026, 1, 6))

    assert [(s.start.hour, s.end.hour, s.user) for s in shifts] == [
        (0, 9, 1),
        (9, 17, 2),
        (17, 0, 1),
    ]


def test_swap_replaces_only_the_named_user():
    layer = Layer(1, engine.wall_start(date(2026, 1, 5), time(0)), timedelta(hours=12), (1, 2))
    swap = Override(7, _utc(2026, 1, 5, 6), _utc(2026, 1, 5, 18), user=3, replaces=1)

    shifts = engine.final_shifts("UTC", [layer], [swap], _utc(2026, 1, 5), _utc(2026, 1, 6))

    assert [(s.start.hour, s.user, s.override) for s in shifts] == [
        (0, 1, None),
        (6, 3, 7),
        (12, 2, None),
    ]


def test_override_covers_a_gap_where_nobody_is_on_call():
    layer = Layer(
        1,
        engine.wall_start(date(2026, 1, 5), time(9)),
        timedelta(days=1),
        (1,),
        {0: [(time(9), time(17))]},
    )
    cover = Override(3, _utc(2026, 1, 5, 20), _utc(2026, 1, 5, 22), user=4)

    shifts = engine.final_shifts("UTC", [layer], [cover], _utc(2026, 1, 5), _utc(2026, 1, 6))

    assert [(s.start.hour, s.end.hour, s.user) for s in shifts] == [(9, 17, 1), (20, 22, 4)]


def test_nobody_is_on_call_before_a_layer_starts():
    layer = _daily(date(2026, 6, 1), time(9), (1,))

    assert engine.final_shifts("UTC", [layer], [], _utc(2026, 5, 1), _utc(2026, 5, 2)) == []


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (_utc(2026, 1, 2), _utc(2026, 1, 1), "ends before"),
        (_utc(2026, 1, 1), _utc(2027, 2, 1), "367 days"),
        (_utc(2026, 1, 1).replace(tzinfo=None), _utc(2026, 1, 2), "UTC offset"),
    ],
)
def test_bad_ranges_are_refused(start, end, message):
    with pytest.raises(engine.ScheduleError, match=message):
        engine.final_shifts("UTC", [], [], start, end)


def test_unknown_zone_is_refused():
    with pytest.raises(engine.ScheduleError, match="IANA"):
        engine.final_shifts("Mars/Olympus", [], [], _utc(2026, 1, 1), _utc(2026, 1, 2))
