from __future__ import annotations

import pytest

from buttress.accounts.models import Role
from buttress.desk import services as desk
from buttress.desk.models import EventKind, TicketEvent
from buttress.notify.models import Notification
from buttress.notify.services import fanout, people
from buttress.testing.factories import ContactFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_new_assignee_hears_of_the_assignment_but_not_whoever_assigned(
    org, django_capture_on_commit_callbacks
):
    dispatcher, assignee = UserFactory.create_batch(2, role=Role.AGENT)
    for user in (dispatcher, assignee):
        people.set_subscriptions(actor=user, user=user, events=["assigned"])
    ticket = desk.create_ticket(org, actor=dispatcher, subject="VPN broken")

    with django_capture_on_commit_callbacks(execute=True):
        desk.update_ticket(ticket, actor=dispatcher, assignee=assignee)

    [notification] = Notification.objects.all()
    assert notification.user == assignee
    assert notification.event == "assigned"
    assert notification.ticket == ticket
    assert ticket.reference in notification.subject


def test_a_team_subscription_reaches_the_members_for_the_teams_tickets(
    org, django_capture_on_commit_callbacks
):
    one, two = UserFactory.create_batch(2, role=Role.AGENT)
    team = TeamFactory.create()
    team.members.add(one, two)
    other_team = TeamFactory.create()
    people.set_subscriptions(actor=None, team=team, events=["new_ticket"])

    with django_capture_on_commit_callbacks(execute=True):
        desk.create_ticket(org, actor=None, subject="For the team", team=team)
        desk.create_ticket(org, actor=None, subject="For others", team=other_team)

    assert sorted(n.user_id for n in Notification.objects.all()) == sorted([one.pk, two.pk])
    assert {n.ticket.subject for n in Notification.objects.all() if n.ticket} == {"For the team"}


def test_a_customer_reply_notifies_the_assignee(org, django_capture_on_commit_callbacks):
    agent = UserFactory.create(role=Role.AGENT)
    people.set_subscriptions(actor=agent, user=agent, events=["customer_replied"])
    contact = ContactFactory.create(organization=org)
    ticket = desk.create_ticket(
        org, actor=None, subject="Printer", requester=contact, assignee=agent
    )

    with django_capture_on_commit_callbacks(execute=True):
        desk.add_reply(ticket, actor=agent, body="Have you tried turning it off?")
        desk.add_reply(ticket, actor=None, contact=contact, body="Yes")

    [notification] = Notification.objects.all()
    assert notification.event == "customer_replied"
    assert notification.user == agent


def test_an_sla_breach_is_not_told_to_customers_and_scope_all_covers_any_ticket(org):
    agent = UserFactory.create(role=Role.AGENT)
    customer = UserFactory.create(role=Role.ORG_ADMIN, organization=org)
    for user in (agent, customer):
        people.set_subscriptions(actor=user, user=user, events=["sla_breached"], scope="all")
    ticket = desk.create_ticket(org, actor=None, subject="Slow")
    event = TicketEvent.objects.create(
        ticket=ticket, kind=EventKind.SLA_BREACHED, detail={"clock": "resolution"}, is_internal=True
    )

    fanout.fan_out([event.pk])
    fanout.fan_out([event.pk])  # a repeated fan-out sends nothing twice

    [notification] = Notification.objects.all()
    assert notification.user == agent
    assert "resolution" in notification.body


def test_a_p1_ticket_notifies_urgently(org, django_capture_on_commit_callbacks):
    agent = UserFactory.create(role=Role.AGENT)
    people.set_subscriptions(actor=agent, user=agent, events=["new_ticket"], scope="all")

    with django_capture_on_commit_callbacks(execute=True):
        desk.create_ticket(org, actor=None, subject="All down", impact="high", urgency="high")

    [notification] = Notification.objects.all()
    assert notification.ticket is not None
    assert notification.ticket.priority == "P1"
    assert notification.urgent


def test_nobody_listening_costs_no_fan_out(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        desk.create_ticket(org, actor=None, subject="Quiet")

    assert not any(getattr(c, "func", None) is fanout.fan_out for c in callbacks)
