"""The pure clock machine: pauses, priority changes, breaches, warnings, reopen, cycles."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from buttress.sla import clockwork as cw
from buttress.sla.calendar import BusinessCalendar

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)
DONE = frozenset({"resolved", "closed"})
PAUSING = frozenset({"waiting_on_customer"})
ALWAYS = BusinessCalendar.always()


def terms(
    first: int = 30,
    nxt: int = 60,
    resolution: int = 240,
    *,
    calendar: cw.CalendarLike = ALWAYS,
    steps: tuple[cw.Step, ...] = (),
    policy_id: int = 1,
    paused_clocks: frozenset[str] = frozenset({cw.NEXT_RESPONSE, cw.RESOLUTION}),
) -> cw.Terms:
    return cw.Terms(
        calendar=calendar,
        targets={
            cw.FIRST_RESPONSE: first * MIN,
            cw.NEXT_RESPONSE: nxt * MIN,
            cw.RESOLUTION: resolution * MIN,
        },
        pausing_statuses=PAUSING,
        paused_clocks=paused_clocks,
        steps=steps,
        policy_id=policy_id,
    )


def opened(t: cw.Terms | None = None, *, at: datetime = T0, status: str = "new") -> cw.Machine:
    machine = cw.Machine(t or terms(), status=status, done_statuses=DONE)
    machine.open(at)
    return machine


def kinds(machine: cw.Machine) -> list[tuple[str, str, datetime]]:
    return [(t.kind, t.clock, t.at) for t in machine.transitions]


def test_opening_starts_first_response_and_resolution():
    machine = opened()

    assert kinds(machine) == [
        (cw.STARTED, cw.FIRST_RESPONSE, T0),
        (cw.STARTED, cw.RESOLUTION, T0),
    ]
    assert machine.next_due(machine.clocks[cw.FIRST_RESPONSE]) == T0 + 30 * MIN
    assert machine.breach_due(machine.clocks[cw.RESOLUTION]) == T0 + 240 * MIN


def test_agent_reply_meets_first_response_with_the_business_time_used():
    machine = opened()

    machine.agent_replied(T0 + 12 * MIN)

    first = machine.clocks[cw.FIRST_RESPONSE]
    assert (first.state, first.elapsed, first.met_at) == (cw.MET, 12 * MIN, T0 + 12 * MIN)
    assert first.breached_at is None


def test_reply_exactly_at_the_due_instant_is_on_time():
    machine = opened()

    machine.agent_replied(T0 + 30 * MIN)

    assert machine.clocks[cw.FIRST_RESPONSE].breached_at is None


def test_pausing_status_keeps_elapsed_time_and_resumes_from_it():
    machine = opened()

    machine.set_status(T0 + 60 * MIN, "waiting_on_customer")
    machine.set_status(T0 + 300 * MIN, "open")

    resolution = machine.clocks[cw.RESOLUTION]
    assert resolution.state == cw.RUNNING
    assert resolution.elapsed == 60 * MIN
    # 180 minutes were left when it paused, counted from the resume.
    assert machine.breach_due(resolution) == T0 + 480 * MIN
    # The first response is not among the paused clocks.
    assert machine.clocks[cw.FIRST_RESPONSE].state == cw.RUNNING


def test_a_paused_clock_never_breaches():
    machine = opened()
    machine.agent_replied(T0 + MIN)
    machine.set_status(T0 + 10 * MIN, "waiting_on_customer")

    machine.advance(T0 + timedelta(days=30))

    assert machine.clocks[cw.RESOLUTION].breached_at is None
    assert machine.next_due(machine.clocks[cw.RESOLUTION]) is None


def test_breach_fires_at_its_instant_and_the_clock_keeps_counting():
    machine = opened()
    machine.agent_replied(T0 + MIN)

    machine.advance(T0 + 300 * MIN)
    machine.set_status(T0 + 400 * MIN, "resolved")

    resolution = machine.clocks[cw.RESOLUTION]
    assert resolution.breached_at == T0 + 240 * MIN
    assert resolution.elapsed == 400 * MIN  # how late: 160 minutes
    met = [t for t in machine.transitions if t.kind == cw.MET_EVENT and t.clock == cw.RESOLUTION]
    assert met[0].detail["late"] is True


def test_priority_change_applies_the_new_target_to_banked_time():
    machine = opened()
    machine.set_status(T0 + 100 * MIN, "waiting_on_customer")
    machine.set_status(T0 + 200 * MIN, "open")

    machine.set_terms(T0 + 220 * MIN, terms(resolution=480, policy_id=1))

    resolution = machine.clocks[cw.RESOLUTION]
    assert resolution.elapsed == 120 * MIN
    assert resolution.target == 480 * MIN
    assert machine.breach_due(resolution) == T0 + 220 * MIN + 360 * MIN


def test_a_new_target_below_the_banked_time_breaches_at_the_change():
    machine = opened()
    change = T0 + 90 * MIN

    machine.set_terms(change, terms(first=60, resolution=60))

    assert machine.clocks[cw.RESOLUTION].breached_at == change
    # The first response had already breached at its old due instant, before the change.
    assert machine.clocks[cw.FIRST_RESPONSE].breached_at == T0 + 30 * MIN
    retargeted = [t for t in machine.transitions if t.kind == cw.RETARGETED]
    assert {t.clock for t in retargeted} == {cw.FIRST_RESPONSE, cw.RESOLUTION}


def test_same_terms_change_nothing():
    machine = opened()
    before = list(machine.transitions)

    machine.set_terms(T0 + 5 * MIN, terms())

    assert machine.transitions == before


def test_warning_steps_fire_once_each_at_their_thresholds():
    ladder = (
        cw.Step("notify", percent=50),
        cw.Step("raise_priority", minutes_before=30, clock=cw.RESOLUTION),
    )
    machine = opened(terms(steps=ladder))

    machine.advance(T0 + 500 * MIN)
    machine.advance(T0 + 600 * MIN)

    warnings = [
        (t.clock, t.detail["step"], t.at) for t in machine.transitions if t.kind == "warning"
    ]
    assert warnings == [
        (cw.FIRST_RESPONSE, "*:50%", T0 + 15 * MIN),
        (cw.RESOLUTION, "*:50%", T0 + 120 * MIN),
        (cw.RESOLUTION, "resolution:-30m", T0 + 210 * MIN),
    ]
    assert machine.clocks[cw.FIRST_RESPONSE].fired == ["*:50%"]


def test_next_due_is_the_earliest_warning_then_the_breach():
    machine = opened(terms(steps=(cw.Step("notify", percent=75),)))
    first = machine.clocks[cw.FIRST_RESPONSE]

    assert machine.next_due(first) == T0 + 22 * MIN + timedelta(seconds=30)
    machine.advance(T0 + 23 * MIN)
    assert machine.next_due(first) == T0 + 30 * MIN
    machine.advance(T0 + 31 * MIN)
    assert machine.next_due(first) is None


def test_reopen_resumes_resolution_with_its_elapsed_time():
    machine = opened()
    machine.agent_replied(T0 + MIN)
    machine.set_status(T0 + 100 * MIN, "resolved")

    machine.set_status(T0 + 1000 * MIN, "open")

    resolution = machine.clocks[cw.RESOLUTION]
    assert (resolution.state, resolution.elapsed, resolution.met_at) == (
        cw.RUNNING,
        100 * MIN,
        None,
    )
    assert machine.breach_due(resolution) == T0 + 1140 * MIN
    assert machine.clocks[cw.FIRST_RESPONSE].state == cw.MET


def test_next_response_runs_per_exchange_after_the_first_response():
    machine = opened()
    machine.customer_replied(T0 + 5 * MIN)
    assert cw.NEXT_RESPONSE not in machine.clocks  # the first response is still owed

    machine.agent_replied(T0 + 10 * MIN)
    machine.customer_replied(T0 + 20 * MIN)
    machine.customer_replied(T0 + 25 * MIN)  # still the same exchange
    machine.agent_replied(T0 + 50 * MIN)
    machine.customer_replied(T0 + 60 * MIN)

    current = machine.clocks[cw.NEXT_RESPONSE]
    assert (current.cycle, current.state, current.started_at) == (2, cw.RUNNING, T0 + 60 * MIN)
    finished = machine.touched[(cw.NEXT_RESPONSE, 1)]
    assert (finished.state, finished.elapsed) == (cw.MET, 30 * MIN)


def test_resolving_answers_an_open_first_response():
    machine = opened()

    machine.set_status(T0 + 5 * MIN, "resolved")

    first = machine.clocks[cw.FIRST_RESPONSE]
    assert (first.state, first.met_at) == (cw.MET, T0 + 5 * MIN)


def test_no_policy_pauses_clocks_and_a_new_policy_resumes_them():
    machine = opened()
    machine.agent_replied(T0 + MIN)

    machine.set_terms(T0 + 30 * MIN, None)
    machine.set_terms(T0 + 90 * MIN, terms())

    resolution = machine.clocks[cw.RESOLUTION]
    assert resolution.state == cw.RUNNING
    assert resolution.elapsed == 30 * MIN


def test_a_ticket_without_a_policy_gets_clocks_when_one_applies():
    machine = cw.Machine(None, status="open", done_statuses=DONE)
    machine.open(T0)
    assert machine.clocks == {}

    machine.set_terms(T0 + 10 * MIN, terms())

    assert set(machine.clocks) == {cw.FIRST_RESPONSE, cw.RESOLUTION}
    assert machine.clocks[cw.RESOLUTION].started_at == T0 + 10 * MIN


def test_maintenance_pauses_when_the_policy_says_so():
    machine = opened()

    machine.set_maintenance(T0 + 10 * MIN, True)
    machine.set_status(T0 + 20 * MIN, "waiting_on_customer")
    machine.set_maintenance(T0 + 30 * MIN, False)

    resolution = machine.clocks[cw.RESOLUTION]
    assert resolution.state == cw.PAUSED
    assert resolution.pause_reasons == [cw.BY_STATUS]
    assert resolution.elapsed == 10 * MIN


def test_business_hours_count_only_open_time_across_a_weekend():
    berlin = ZoneInfo("Europe/Berlin")
    office = BusinessCalendar.office_hours("Europe/Berlin")
    friday = datetime(2026, 3, 6, 16, 30, tzinfo=berlin)
    machine = opened(terms(first=120, calendar=office), at=friday)

    due = machine.next_due(machine.clocks[cw.FIRST_RESPONSE])

    assert due == datetime(2026, 3, 9, 10, 30, tzinfo=berlin)


def test_office_windows_with_lunch_and_dst():
    zone = "Europe/London"
    windows = [(time(9), time(12)), (time(13), time(17))]
    calendar = BusinessCalendar(zone, dict.fromkeys(range(7), windows))
    # The clocks went forward on 2026-03-29; the day still has 7 business hours.
    start = datetime(2026, 3, 28, 16, 0, tzinfo=ZoneInfo(zone))
    machine = opened(terms(first=120, calendar=calendar), at=start)

    due = machine.next_due(machine.clocks[cw.FIRST_RESPONSE])

    assert due == datetime(2026, 3, 29, 10, 0, tzinfo=ZoneInfo(zone))


# -- properties ------------------------------------------------------------------------------

ACTIONS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=600),
        st.sampled_from(
            ["waiting_on_customer", "open", "resolved", "agent", "customer", "p1", "p4", "tick"]
        ),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(ACTIONS)
def test_resolution_elapsed_is_exactly_the_running_time(actions: list[tuple[int, str]]):
    """Whatever happens, the resolution clock's elapsed time equals the sum of the intervals
    during which the ticket was neither waiting nor done: no time is lost or invented."""
    office = BusinessCalendar.office_hours("Europe/Berlin")
    machine = opened(terms(calendar=office))
    at = T0
    status = "new"
    running_from: datetime | None = T0
    expected = timedelta(0)
    for gap, action in actions:
        at += gap * MIN
        if action in ("waiting_on_customer", "open", "resolved"):
            if action == status:
                continue
            machine.set_status(at, action)
            status = action
            runs = action == "open"
            if running_from is not None and not runs:
                expected += office.between(running_from, at)
                running_from = None
            elif running_from is None and runs:
                running_from = at
        elif action == "agent":
            machine.agent_replied(at)
        elif action == "customer":
            machine.customer_replied(at)
        elif action in ("p1", "p4"):
            machine.set_terms(at, terms(resolution=60 if action == "p1" else 960, calendar=office))
        else:
            machine.advance(at)
    end = at + MIN
    if running_from is not None:
        expected += office.between(running_from, end)
    resolution = machine.clocks[cw.RESOLUTION]
    assert resolution.elapsed_at(office, end) == expected
    # A breach, if any, happened once, and warnings never repeat.
    breaches = [t for t in machine.transitions if t.kind == cw.BREACHED and t.clock == "resolution"]
    assert len(breaches) <= 1
    assert len(resolution.fired) == len(set(resolution.fired))
    # Transitions are recorded in time order.
    instants = [t.at for t in machine.transitions]
    assert instants == sorted(instants)
