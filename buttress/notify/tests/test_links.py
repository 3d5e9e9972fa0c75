from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client

from buttress.accounts.models import Role
from buttress.desk import services as desk
from buttress.desk.models import EventKind, Status, TicketEvent
from buttress.lib.timeutil import now
from buttress.notify import links
from buttress.notify.models import DeliveryStatus, Notification
from buttress.notify.services import people, sending
from buttress.notify.signals import acknowledged
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _path(url: str) -> str:
    return urlsplit(url).path


@pytest.fixture
def ticket(org):
    return desk.create_ticket(org, actor=None, subject="Database down")


def test_opening_a_link_changes_nothing_and_confirming_acknowledges(client: Client, ticket):
    agent = UserFactory.create(role=Role.AGENT)
    url = _path(links.acknowledge_url(ticket.pk, agent.pk))
    heard = []

    def receiver(sender, ticket, user, at, **kwargs):
        heard.append((ticket.pk, user.pk))

    acknowledged.connect(receiver)
    try:
        page = client.get(url)
        assert page.status_code == 200
        assert not TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ACKNOWLEDGED).exists()

        done = client.post(url)
    finally:
        acknowledged.disconnect(receiver)

    assert done.status_code == 200
    [event] = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ACKNOWLEDGED)
    assert event.actor == agent
    assert event.detail == {"via": "link"}
    assert heard == [(ticket.pk, agent.pk)]


def test_acknowledging_cancels_the_tickets_waiting_notifications(client: Client, ticket):
    agent = UserFactory.create(role=Role.AGENT)
    method = people.add_contact_method(
        agent, actor=agent, kind="email", label="m", target="a@b.example"
    )
    people.add_rule(agent, actor=agent, method=method, delay_minutes=15)
    [later] = sending.notify_user(agent, subject="s", body="b", ticket=ticket)

    client.post(_path(links.acknowledge_url(ticket.pk, agent.pk)))

    later.refresh_from_db()
    assert later.status == DeliveryStatus.CANCELLED
    assert later.send_due_at is None


def test_the_resolve_link_resolves_through_the_desk(client: Client, ticket):
    agent = UserFactory.create(role=Role.AGENT)

    client.post(_path(links.resolve_url(ticket.pk, agent.pk)))

    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    again = client.post(_path(links.resolve_url(ticket.pk, agent.pk)))
    assert again.status_code == 400
    assert b"already resolved" in again.content


def test_an_altered_or_expired_link_is_refused(client: Client, ticket):
    agent = UserFactory.create(role=Role.AGENT)
    url = _path(links.acknowledge_url(ticket.pk, agent.pk))

    assert client.post(url[:-3] + "xx/").status_code == 400
    with time_machine.travel(now() + timedelta(hours=links.valid_hours() + 1)):
        assert client.post(url).status_code == 400
    assert not TicketEvent.objects.filter(kind=EventKind.ACKNOWLEDGED).exists()


def test_a_link_does_nothing_for_a_recipient_who_may_not_work_on_the_ticket(
    client: Client, ticket, other_org
):
    outsider = UserFactory.create(role=Role.ORG_ADMIN, organization=other_org)
    viewer = UserFactory.create(role=Role.VIEWER)

    assert client.post(_path(links.acknowledge_url(ticket.pk, outsider.pk))).status_code == 404
    assert client.post(_path(links.resolve_url(ticket.pk, viewer.pk))).status_code == 404
    ticket.refresh_from_db()
    assert ticket.status != Status.RESOLVED
    assert not Notification.objects.exists()


def test_the_link_names_an_unknown_action_never():
    with pytest.raises(ValueError, match="unknown action"):
        links.make_token(1, 1, "delete")
