"""Mail to requesters: the acknowledgement and public replies, threaded per ticket."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings

from buttress.desk import services as desk
from buttress.desk.models import Reply, Source
from buttress.desk.tasks import send_acknowledgement, send_reply
from buttress.sla import services as sla
from buttress.sla.tests.helpers import make_calendar, make_policy
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db

DOMAIN = urlparse(settings.BASE_URL).hostname

ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


@pytest.fixture
def requester(org):
    return ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")


def test_a_new_request_is_acknowledged_with_the_first_response_target(
    org, agent, requester, django_capture_on_commit_callbacks
):
    policy = make_policy(calendar=make_calendar(name="Always", timezone="UTC", weekly=ALWAYS))
    sla.create_rule(actor=None, policy=policy)
    with django_capture_on_commit_callbacks() as callbacks:
        ticket = desk.create_ticket(org, actor=agent, subject="VPN", requester=requester)
    assert len(callbacks) == 1

    assert send_acknowledgement.call(ticket.pk) is True

    [message] = mail.outbox
    assert message.to == ["dana@acme.example"]
    assert message.subject == f"[{ticket.reference}] VPN"
    assert message.extra_headers["Message-ID"] == f"<ticket-{ticket.number}@{DOMAIN}>"
    assert "We will answer by" in message.body
    assert f"/portal/{ticket.pk}/" in message.body


def test_public_agent_replies_are_mailed_in_the_ticket_thread(org, agent, requester):
    ticket = desk.create_ticket(org, actor=agent, subject="VPN", requester=requester)
    public = desk.add_reply(ticket, actor=agent, body="Please restart the client.")
    note = desk.add_reply(ticket, actor=agent, body="Probably the certificate", internal=True)

    assert send_reply.call(public.pk) is True
    assert send_reply.call(note.pk) is False

    [message] = mail.outbox
    assert message.subject == f"Re: [{ticket.reference}] VPN"
    assert message.body.startswith("Please restart the client.")
    assert message.extra_headers["References"] == f"<ticket-{ticket.number}@{DOMAIN}>"
    assert message.extra_headers["In-Reply-To"] == f"<ticket-{ticket.number}@{DOMAIN}>"
    assert "Probably" not in message.body


def test_customer_replies_and_machine_tickets_mail_nobody(
    org, agent, end_user, requester, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        desk.create_ticket(
            org, actor=None, subject="Disk full", requester=requester, source=Source.MONITORING
        )
        ticket = desk.create_ticket(org, actor=agent, subject="No address")
        desk.add_reply(ticket, actor=end_user, body="Me too")
    assert callbacks == []
    assert send_acknowledgement.call(ticket.pk) is False


@override_settings(DESK_MAIL_REQUESTERS=False)
def test_mail_to_requesters_can_be_switched_off(org, agent, requester):
    ticket = desk.create_ticket(org, actor=agent, subject="VPN", requester=requester)
    reply = desk.add_reply(ticket, actor=agent, body="Hello")

    assert send_acknowledgement.call(ticket.pk) is False
    assert send_reply.call(reply.pk) is False
    assert mail.outbox == []
    assert Reply.objects.count() == 1
