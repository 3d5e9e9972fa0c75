"""Clocks on real tickets: the desk's services drive them, the scheduler fires them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from buttress.desk import services as desk
from buttress.desk.models import EventKind, Level, Ticket
from buttress.scheduler.claims import claim_due
from buttress.scheduler.registry import get_timer
from buttress.sla import clocks, services
from buttress.sla.models import SlaAction, SlaClock
from buttress.sla.tasks import apply_configuration, fire_clocks, run_actions
from buttress.sla.tests.helpers import make_calendar, make_policy, targets
from buttress.testing.factories import TeamFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)
ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


def policy(**fields: Any) -> Any:
    calendar = make_calendar(name="Always", timezone="UTC", weekly=ALWAYS)
    made = make_policy(calendar=calendar, **fields)
    services.create_rule(actor=None, policy=made)
    return made


def clock(ticket: Ticket, kind: str) -> SlaClock:
    return SlaClock.objects.get(ticket=ticket, kind=kind, is_current=True)


def sla_events(ticket: Ticket) -> list[tuple[str, str, datetime]]:
    return [
        (e.kind, e.detail["clock"], e.at)
        for e in ticket.events.filter(kind__startswith="sla_").order_by("at", "id")
    ]


def open_ticket(org: Any, agent: Any, **fields: Any) -> Ticket:
    return desk.create_ticket(org, actor=agent, subject="Printer on fire", at=T0, **fields)


def fire_due(at: datetime) -> int:
    """One scheduler sweep at ``at``, running what it enqueued: the number of rows acted on."""
    ran = 0
    for name, model, task in (
        ("sla.clock", SlaClock, fire_clocks),
        ("sla.action", SlaAction, run_actions),
    ):
        due = list(model.objects.filter(due_at__lte=at).values_list("pk", flat=True))
        if not claim_due(get_timer(name), at=at):
            continue
        claims = {row.due_at for row in model.objects.filter(pk__in=due)}
        for claim in claims:
            assert claim is not None
            with time_machine.travel(at, tick=False):
                ran += task.call(due, claim.isoformat())
    return ran


def test_a_new_ticket_starts_its_clocks_under_the_matching_policy(org, agent):
    policy(targets=targets(first=30, resolution=240))

    ticket = open_ticket(org, agent)

    ticket.refresh_from_db()
    assert clock(ticket, "first_response").due_at == T0 + 30 * MIN
    assert clock(ticket, "resolution").breach_at == T0 + 240 * MIN
    assert (ticket.sla_state, ticket.sla_due_at) == ("running", T0 + 30 * MIN)
    assert sla_events(ticket) == [
        (EventKind.SLA_STARTED, "first_response", T0),
        (EventKind.SLA_STARTED, "resolution", T0),
    ]


def test_a_ticket_with_no_matching_policy_has_no_clocks(org, agent):
    ticket = open_ticket(org, agent)

    assert not SlaClock.objects.filter(ticket=ticket).exists()
    assert ticket.sla_state == ""


def test_waiting_on_the_customer_pauses_and_keeps_elapsed_time(org, agent):
    policy()
    ticket = open_ticket(org, agent)
    desk.add_reply(ticket, actor=agent, body="Looking", at=T0 + 5 * MIN)
    desk.transition(ticket, "waiting_on_customer", actor=agent, at=T0 + 60 * MIN)

    paused = clock(ticket, "resolution")
    assert (paused.state, paused.elapsed, paused.due_at) == ("paused", 60 * MIN, None)
    ticket.refresh_from_db()
    assert ticket.sla_state == "paused"

    desk.transition(ticket, "in_progress", actor=agent, at=T0 + 600 * MIN)

    resumed = clock(ticket, "resolution")
    assert resumed.breach_at == T0 + 600 * MIN + 180 * MIN
    assert clock(ticket, "first_response").state == "met"


def test_priority_change_keeps_elapsed_time_and_breaches_if_already_over(org, agent):
    tight = targets(first=30, resolution=240)
    tight["P1"] = {"first_response": 15, "next_response": 30, "resolution": 60}
    policy(targets=tight)
    ticket = open_ticket(org, agent)
    desk.add_reply(ticket, actor=agent, body="On it", at=T0 + 5 * MIN)

    desk.update_ticket(ticket, actor=agent, impact=Level.HIGH, urgency=Level.HIGH, at=T0 + 90 * MIN)

    resolution = clock(ticket, "resolution")
    assert ticket.priority == "P1"
    assert resolution.target == 60 * MIN
    assert resolution.breached_at == T0 + 90 * MIN
    assert resolution.elapsed == 90 * MIN
    ticket.refresh_from_db()
    assert ticket.sla_state == "breached"


def test_reopen_resumes_resolution_with_elapsed_kept(org, agent):
    policy()
    ticket = open_ticket(org, agent)
    desk.add_reply(ticket, actor=agent, body="Fixed?", at=T0 + 10 * MIN)
    desk.transition(ticket, "resolved", actor=agent, at=T0 + 100 * MIN)
    assert clock(ticket, "resolution").state == "met"

    desk.transition(ticket, "open", actor=agent, at=T0 + 2000 * MIN)

    resolution = clock(ticket, "resolution")
    assert (resolution.state, resolution.elapsed) == ("running", 100 * MIN)
    assert resolution.breach_at == T0 + 2000 * MIN + 140 * MIN


def test_customer_reply_starts_a_next_response_cycle(org, agent, end_user):
    policy()
    ticket = open_ticket(org, agent, requester=end_user.contact)
    desk.add_reply(ticket, actor=agent, body="Which printer?", at=T0 + 10 * MIN)

    desk.add_reply(ticket, actor=end_user, body="The red one", at=T0 + 20 * MIN)
    desk.add_reply(ticket, actor=agent, body="Thanks", at=T0 + 35 * MIN)
    desk.add_reply(ticket, actor=end_user, body="And?", at=T0 + 50 * MIN)

    cycles = list(SlaClock.objects.filter(ticket=ticket, kind="next_response").order_by("cycle"))
    assert [(c.cycle, c.state, c.is_current, c.elapsed) for c in cycles] == [
        (1, "met", False, 15 * MIN),
        (2, "running", True, timedelta(0)),
    ]
    assert cycles[0].due_at is None


def test_scheduler_fires_warning_and_breach_once_each_at_their_instants(org, agent):
    policy(warnings=[{"percent": 50, "action": "notify", "clock": "first_response"}])
    ticket = open_ticket(org, agent, assignee=agent)

    # Two schedulers sweeping at the same moment: the second finds nothing to claim.
    assert fire_due(T0 + 15 * MIN + timedelta(seconds=2)) >= 1
    assert fire_due(T0 + 15 * MIN + timedelta(seconds=2)) == 0
    fire_due(T0 + 31 * MIN)
    fire_due(T0 + 45 * MIN)

    assert [e for e in sla_events(ticket) if e[0] != EventKind.SLA_STARTED] == [
        (EventKind.SLA_WARNING, "first_response", T0 + 15 * MIN),
        (EventKind.SLA_BREACHED, "first_response", T0 + 30 * MIN),
    ]
    assert len(mail.outbox) == 1
    assert agent.email in mail.outbox[0].to
    assert "SLA warning" in mail.outbox[0].subject
    action = SlaAction.objects.get()
    assert action.done_at is not None
    assert action.outcome.startswith("notified")
    ticket.refresh_from_db()
    assert ticket.sla_state == "breached"


def test_a_stale_or_duplicate_delivery_does_nothing(org, agent):
    policy()
    ticket = open_ticket(org, agent)
    first = clock(ticket, "first_response")
    claim_due(get_timer("sla.clock"), at=T0 + 31 * MIN)
    first.refresh_from_db()
    assert first.due_at is not None
    claim = first.due_at.isoformat()

    with time_machine.travel(T0 + 31 * MIN, tick=False):
        assert fire_clocks.call([first.pk], claim) == 1
        assert fire_clocks.call([first.pk], claim) == 0

    breaches = ticket.events.filter(kind=EventKind.SLA_BREACHED)
    assert breaches.count() == 1


def test_one_batch_fires_many_tickets_each_once(org, agent):
    policy()
    tickets = [open_ticket(org, agent) for _ in range(5)]

    claimed = claim_due(get_timer("sla.clock"), at=T0 + 31 * MIN)
    due = {row.due_at for row in SlaClock.objects.filter(ticket__in=tickets, kind="first_response")}
    pks = list(SlaClock.objects.filter(ticket__in=tickets).values_list("pk", flat=True))

    assert claimed == 5
    [claim] = due
    assert claim is not None
    with time_machine.travel(T0 + 31 * MIN, tick=False):
        assert fire_clocks.call(pks, claim.isoformat()) == 5
    for ticket in tickets:
        assert ticket.events.filter(kind=EventKind.SLA_BREACHED).count() == 1


def test_reassign_and_raise_priority_steps_act_on_the_ticket(org, agent):
    team = TeamFactory.create(name="Escalations")
    policy(
        warnings=[
            {"percent": 50, "action": "reassign", "team": team.pk, "clock": "resolution"},
            {"percent": 75, "action": "raise_priority", "clock": "resolution"},
        ]
    )
    ticket = open_ticket(org, agent, assignee=agent)
    desk.add_reply(ticket, actor=agent, body="Hi", at=T0 + MIN)

    fire_due(T0 + 121 * MIN)
    fire_due(T0 + 121 * MIN)
    fire_due(T0 + 181 * MIN)
    fire_due(T0 + 181 * MIN)

    ticket.refresh_from_db()
    assert (ticket.team_id, ticket.assignee_id) == (team.pk, None)
    assert ticket.priority == "P2"
    outcomes = list(SlaAction.objects.values_list("action", "outcome"))
    assert outcomes == [
        ("reassign", "reassigned to team Escalations"),
        ("raise_priority", "priority raised from P3 to P2"),
    ]


def test_a_policy_with_open_clocks_cannot_be_deleted(org, agent):
    made = policy()
    open_ticket(org, agent)
    services.delete_rule(made.rules.get(), actor=None)

    with pytest.raises(ValidationError, match="open ticket"):
        services.delete_policy(made, actor=None)


def test_clock_view_shows_business_and_wall_time_left(org, agent):
    office = make_calendar(name="Office hours")
    made = make_policy(calendar=office, targets=targets(first=120))
    services.create_rule(actor=None, policy=made)
    friday = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)  # 16:30 in Berlin
    ticket = desk.create_ticket(org, actor=agent, subject="Late on Friday", at=friday)

    view = clocks.clock_view(clocks.current_clocks([ticket])[ticket.pk][0], at=friday + 15 * MIN)

    assert view["kind"] == "first_response"
    assert view["left_seconds"] == (120 - 15) * 60
    # Due Monday 10:30 Berlin (09:30 UTC): the wall time left spans the weekend.
    assert view["due_at"] == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    assert view["wall_left_seconds"] == int(
        (datetime(2026, 3, 9, 9, 30, tzinfo=UTC) - friday - 15 * MIN).total_seconds()
    )


def test_a_policy_edit_reaches_open_clocks_from_the_edit_on(
    org, agent, django_capture_on_commit_callbacks
):
    made = policy(targets=targets(first=30, resolution=240))
    ticket = open_ticket(org, agent)
    desk.add_reply(ticket, actor=agent, body="Hi", at=T0 + 5 * MIN)

    with (
        time_machine.travel(T0 + 60 * MIN, tick=False),
        django_capture_on_commit_callbacks() as callbacks,
    ):
        services.update_policy(made, actor=None, targets=targets(first=30, resolution=90))
    assert len(callbacks) == 1
    with time_machine.travel(T0 + 61 * MIN, tick=False):
        assert apply_configuration.call([made.pk], (T0 + 60 * MIN).isoformat(), None) == 1

    resolution = clock(ticket, "resolution")
    assert resolution.target == 90 * MIN
    assert resolution.breach_at == T0 + 90 * MIN
    assert ticket.events.filter(kind=EventKind.SLA_RETARGETED).count() == 1


def test_a_calendar_edit_keeps_time_before_it_on_the_old_hours(org, agent):
    office = make_calendar(name="Office", timezone="UTC", weekly={"0": [["09:00", "17:00"]]})
    made = make_policy(calendar=office, targets=targets(first=30, resolution=600))
    services.create_rule(actor=None, policy=made)
    ticket = open_ticket(org, agent)  # Monday 09:00 UTC
    old = services.calendar_snapshot(office)

    edit = T0 + 120 * MIN  # 11:00: two business hours used
    with time_machine.travel(edit, tick=False):
        services.update_calendar(office, actor=None, weekly={"0": [["09:00", "10:00"]]})
    with time_machine.travel(edit + MIN, tick=False):
        apply_configuration.call([made.pk], edit.isoformat(), old)

    resolution = clock(ticket, "resolution")
    assert resolution.elapsed == 120 * MIN
    # 480 minutes left, one business hour a week from now on: eight Mondays later.
    assert resolution.breach_at == T0 + timedelta(weeks=8) + 60 * MIN
