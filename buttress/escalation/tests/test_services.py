from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from buttress.desk import services as desk
from buttress.desk.models import EventKind, Status
from buttress.escalation import services
from buttress.escalation.models import Escalation, EscalationState, Page
from buttress.escalation.services import StepSpec
from buttress.escalation.tests.helpers import incident, policy, run_due, staff
from buttress.lib.timeutil import now
from buttress.notify import actions
from buttress.oncall import services as oncall
from buttress.testing.factories import TeamFactory

pytestmark = pytest.mark.django_db


def _pages(escalation: Escalation) -> list[tuple[int, int, int, str]]:
    return [
        (p.cycle, p.round, p.position, p.user.email)
        for p in Page.objects.filter(escalation=escalation).order_by("id").select_related("user")
    ]


def test_steps_run_in_order_with_their_waits_and_the_policy_repeats(org):
    first, second = staff("first"), staff("second")
    chosen = policy(
        org,
        StepSpec(wait_minutes=5, users=[first], teams=[]),
        StepSpec(wait_minutes=10, users=[second], teams=[]),
        repeat=1,
    )
    ticket = incident(org)
    start = now()
    with time_machine.travel(start, tick=False):
        escalation = services.start(ticket, chosen, actor=None)
        assert run_due(escalation)
    escalation.refresh_from_db()
    assert _pages(escalation) == [(0, 0, 0, "first@provider.example")]
    assert escalation.due_at == start + timedelta(minutes=5)

    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        assert run_due(escalation)
    escalation.refresh_from_db()
    assert escalation.due_at == start + timedelta(minutes=15)
    # the second round starts after the last step's wait
    with time_machine.travel(start + timedelta(minutes=15), tick=False):
        assert run_due(escalation)
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        assert run_due(escalation)
    escalation.refresh_from_db()
    assert _pages(escalation) == [
        (0, 0, 0, "first@provider.example"),
        (0, 0, 1, "second@provider.example"),
        (0, 1, 0, "first@provider.example"),
        (0, 1, 1, "second@provider.example"),
    ]
    assert escalation.state == EscalationState.EXHAUSTED
    assert escalation.due_at is None
    assert escalation.steps_run == 4
    summaries = [
        e.detail["summary"] for e in ticket.events.filter(kind=EventKind.ESCALATION).order_by("id")
    ]
    assert summaries[0] == "Escalation started: Primary."
    assert summaries[1] == "Step 1, round 1: paged First."
    assert summaries[-1] == "Escalation ended: every step ran."


def test_a_team_step_pages_each_active_member_once(org):
    alice, bob = staff("alice"), staff("bob")
    gone = staff("gone")
    gone.is_active = False
    gone.save()
    team = TeamFactory.create()
    team.members.set([alice, bob, gone])
    chosen = policy(org, StepSpec(wait_minutes=0, users=[alice], teams=[team]))
    escalation = services.start(incident(org), chosen, actor=None)
    assert run_due(escalation)
    assert sorted(e for *_, e in _pages(escalation)) == [
        "alice@provider.example",
        "bob@provider.example",
    ]


def test_a_duplicate_or_stale_task_does_nothing(org):
    chosen = policy(org, StepSpec(wait_minutes=30, users=[staff("one")], teams=[]))
    escalation = services.start(incident(org), chosen, actor=None)
    escalation.refresh_from_db()
    assert escalation.due_at is not None
    claim = escalation.due_at.isoformat()
    from buttress.escalation.tasks import advance_escalation

    assert advance_escalation.call(escalation.pk, claim)
    assert not advance_escalation.call(escalation.pk, claim)
    assert Page.objects.filter(escalation=escalation).count() == 1


def test_acknowledging_stops_paging_and_resolving_ends_it(org, admin_user):
    chosen = policy(
        org,
        StepSpec(wait_minutes=5, users=[staff("one")], teams=[]),
        StepSpec(wait_minutes=5, users=[staff("two")], teams=[]),
    )
    ticket = incident(org)
    escalation = services.start(ticket, chosen, actor=None)
    assert run_due(escalation)
    services.acknowledge(ticket, actor=admin_user)
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    assert escalation.due_at is None
    assert escalation.acknowledged_by == admin_user
    assert Page.objects.filter(escalation=escalation).count() == 1

    desk.transition(ticket, Status.RESOLVED, actor=admin_user)
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.RESOLVED
    assert escalation.ended_at is not None


def test_an_acknowledgement_times_out_and_paging_restarts_from_the_first_step(org, admin_user):
    one = staff("one")
    chosen = policy(
        org,
        StepSpec(wait_minutes=5, users=[one], teams=[]),
        StepSpec(wait_minutes=5, users=[staff("two")], teams=[]),
        ack_timeout=20,
    )
    ticket = incident(org)
    start = now()
    with time_machine.travel(start, tick=False):
        escalation = services.start(ticket, chosen, actor=None)
        assert run_due(escalation)
        services.acknowledge(ticket, actor=admin_user)
    escalation.refresh_from_db()
    assert escalation.due_at == start + timedelta(minutes=20)
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        assert run_due(escalation)
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACTIVE
    assert escalation.cycle == 1
    assert _pages(escalation) == [
        (0, 0, 0, "one@provider.example"),
        (1, 0, 0, "one@provider.example"),
    ]


def test_a_ticket_resolved_meanwhile_ends_the_escalation_at_its_next_step(org, admin_user):
    chosen = policy(org, StepSpec(wait_minutes=1, users=[staff("one")], teams=[]), repeat=3)
    ticket = incident(org)
    escalation = services.start(ticket, chosen, actor=None)
    assert run_due(escalation)
    # resolved behind the services' back: the next step notices instead of paging
    type(ticket).objects.filter(pk=ticket.pk).update(status=Status.RESOLVED)
    assert run_due(escalation)
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.RESOLVED
    assert Page.objects.filter(escalation=escalation).count() == 1


def test_one_running_escalation_per_ticket_and_refusals(org, other_org, admin_user):
    chosen = policy(org, StepSpec(wait_minutes=1, users=[staff("one")], teams=[]))
    ticket = incident(org)
    services.start(ticket, chosen, actor=None)
    with pytest.raises(ValidationError, match="already running"):
        services.start(ticket, chosen, actor=None)
    foreign = policy(other_org, StepSpec(wait_minutes=1, users=[staff("two")], teams=[]))
    with pytest.raises(ValidationError, match="another organisation"):
        services.start(incident(org, "Other"), foreign, actor=None)
    services.cancel(ticket, actor=admin_user)
    with pytest.raises(ValidationError, match="No escalation is running"):
        services.acknowledge(ticket, actor=admin_user)
    # after the cancel a new escalation may start
    assert services.start(ticket, chosen, actor=None).state == EscalationState.ACTIVE


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"repeat": 10}, "repeat"),
        ({"repeat": "2"}, "repeat"),
        ({"ack_timeout": 0}, "ack_timeout"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_bad_policy_fields_are_refused_by_name(org, changes, field):
    chosen = policy(org, StepSpec(wait_minutes=1, users=[staff("one")], teams=[]))
    with pytest.raises(ValidationError) as caught:
        services.update_policy(chosen, actor=None, **changes)
    assert field in caught.value.message_dict


def test_steps_must_page_active_staff(org, end_user):
    with pytest.raises(ValidationError, match="at least one step"):
        policy(org)
    with pytest.raises(ValidationError, match="pages nobody"):
        policy(org, StepSpec(wait_minutes=1, users=[], teams=[]))
    with pytest.raises(ValidationError, match="not an active member of staff"):
        policy(org, StepSpec(wait_minutes=1, users=[end_user], teams=[]))
    with pytest.raises(ValidationError, match=r"steps\[1\]\.wait_minutes"):
        policy(org, StepSpec(wait_minutes=-1, users=[staff("one")], teams=[]))


def test_the_default_policy_escalates_new_incidents(org):
    assert services.start_default(incident(org)) is None
    shared = services.create_policy(
        None,
        actor=None,
        name="Shared",
        steps=[StepSpec(wait_minutes=1, users=[staff("one")], teams=[])],
        is_default=True,
    )
    started = services.start_default(incident(org))
    assert started is not None
    assert started.policy == shared
    own = policy(org, StepSpec(wait_minutes=1, users=[staff("two")], teams=[]))
    services.update_policy(own, actor=None, is_default=True)
    started = services.start_default(incident(org))
    assert started is not None
    assert started.policy == own


def test_a_policy_in_use_cannot_be_deleted(org):
    chosen = policy(org, StepSpec(wait_minutes=1, users=[staff("one")], teams=[]))
    services.start(incident(org), chosen, actor=None)
    with pytest.raises(ValidationError, match="running"):
        services.delete_policy(chosen, actor=None)
    unused = policy(org, StepSpec(wait_minutes=1, users=[staff("two")], teams=[]))
    services.delete_policy(unused, actor=None)


def test_each_page_goes_out_through_the_users_notification_rules(org):
    chosen = policy(org, StepSpec(wait_minutes=1, users=[staff("one")], teams=[]))
    ticket = incident(org)
    escalation = services.start(ticket, chosen, actor=None)
    assert run_due(escalation)
    page = Page.objects.get(escalation=escalation)
    [sent] = page.notifications.all()
    # without rules of their own, a user is mailed at their account address
    assert (sent.channel, sent.destination, sent.ticket) == (
        "email",
        "one@provider.example",
        ticket,
    )
    assert sent.subject == f"[{ticket.reference}] Paging: Database down"
    assert sent.urgent is False
    assert sent.event == "escalation"


def test_a_p1_incident_pages_urgently_through_quiet_hours(org):
    chosen = policy(org, StepSpec(wait_minutes=1, users=[staff("one")], teams=[]))
    ticket = desk.create_ticket(
        org, actor=None, subject="Everything down", impact="high", urgency="high"
    )
    assert ticket.priority == "P1"
    escalation = services.start(ticket, chosen, actor=None)
    assert run_due(escalation)
    [sent] = Page.objects.get(escalation=escalation).notifications.all()
    assert sent.urgent is True


def test_a_schedule_step_pages_whoever_is_on_call(org):
    on_duty, off_duty = staff("duty"), staff("rest")
    schedule = oncall.create_schedule(actor=None, organization=None, name="Infrastructure")
    oncall.add_layer(
        schedule,
        actor=None,
        name="All week",
        participants=[on_duty, off_duty],
        start_date=(now() - timedelta(days=1)).date(),
        rotation="custom",
        shift_length=30,
    )
    assert oncall.on_call(schedule) == [on_duty]
    chosen = policy(org, StepSpec(wait_minutes=1, users=[], teams=[], schedules=[schedule]))
    escalation = services.start(incident(org), chosen, actor=None)
    assert run_due(escalation)
    assert [e for *_, e in _pages(escalation)] == ["duty@provider.example"]


def test_another_organisations_schedule_is_refused(org, other_org):
    theirs = oncall.create_schedule(actor=None, organization=other_org, name="Theirs")
    with pytest.raises(ValidationError, match="another organisation's"):
        policy(org, StepSpec(wait_minutes=1, users=[], teams=[], schedules=[theirs]))


def test_acknowledging_from_a_notification_link_stops_paging(org, admin_user):
    chosen = policy(
        org,
        StepSpec(wait_minutes=5, users=[staff("one")], teams=[]),
        StepSpec(wait_minutes=5, users=[staff("two")], teams=[]),
    )
    ticket = incident(org)
    escalation = services.start(ticket, chosen, actor=None)
    assert run_due(escalation)
    actions.acknowledge(ticket, user=admin_user, via="link")
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    assert escalation.acknowledged_by == admin_user
    assert ticket.events.filter(kind=EventKind.ACKNOWLEDGED).count() == 1


def test_an_escalation_whose_steps_all_paged_can_still_be_acknowledged(org, admin_user):
    chosen = policy(org, StepSpec(wait_minutes=5, users=[staff("one")], teams=[]), ack_timeout=10)
    ticket = incident(org)
    escalation = services.start(ticket, chosen, actor=None)
    assert run_due(escalation)
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.EXHAUSTED
    services.acknowledge(ticket, actor=admin_user)
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    assert escalation.ended_at is None
    assert escalation.due_at is not None
