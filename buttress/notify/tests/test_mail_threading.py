"""Notification mail to agents and teams is part of the ticket's mail thread: a Message-ID
that stays the same on every retry, In-Reply-To/References naming the ticket's thread, a
signed reply address and the ticket's tag in the subject, so an answer lands on the ticket."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.core import mail

from buttress.accounts.models import Role
from buttress.desk import mail as desk_mail
from buttress.desk import services as desk
from buttress.desk.models import InboundStatus, MailThread, Reply
from buttress.desk.services.inbound import receive
from buttress.notify import channels
from buttress.notify.models import Notification
from buttress.notify.services import delivery, people, sending
from buttress.testing.factories import ContactFactory, TeamFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def reply_address(settings):
    settings.DESK_REPLY_TO = "Support <support@provider.example>"


def _claim(notification: Notification) -> str:
    notification.refresh_from_db()
    assert notification.send_due_at is not None
    return notification.send_due_at.isoformat()


def test_an_agents_ticket_mail_keeps_its_message_id_across_retries_and_names_the_thread(
    org, monkeypatch
):
    agent = UserFactory.create(role=Role.AGENT, email="duty@provider.example")
    ticket = TicketFactory.create(organization=org, subject="Disk full")
    [notification] = sending.notify_user(agent, subject="Assigned", body="b", ticket=ticket)
    tried: list[dict[str, str]] = []

    def refuse(work: delivery._Work) -> None:
        tried.append(work.headers)
        raise channels.ChannelError("the mail server is busy")

    monkeypatch.setattr(delivery, "sender", refuse)
    assert delivery.attempt(notification.pk, _claim(notification)) is False
    monkeypatch.setattr(delivery, "sender", delivery._send)
    assert delivery.attempt(notification.pk, _claim(notification)) is True

    [sent] = mail.outbox
    headers = sent.extra_headers
    assert headers["Message-ID"] == tried[0]["Message-ID"]
    assert (
        headers["Message-ID"] == f"<notify-{notification.pk}.{ticket.number}@{desk_mail.domain()}>"
    )
    assert headers["In-Reply-To"] == desk_mail.thread_id(ticket)
    assert headers["References"] == desk_mail.thread_id(ticket)
    [(number, signature)] = desk_mail.tokens_in([headers["Reply-To"]])
    assert number == ticket.number
    assert desk_mail.signature_valid(number, ticket.organization_id, signature)
    assert sent.subject == f"[{ticket.reference}] Assigned"
    assert MailThread.objects.filter(
        message_id=headers["Message-ID"], ticket=ticket, outbound=True
    ).exists()


def test_a_team_members_notification_carries_the_ticket_thread(
    org, django_capture_on_commit_callbacks
):
    member = UserFactory.create(role=Role.AGENT, email="member@provider.example")
    team = TeamFactory.create()
    team.members.add(member)
    people.set_subscriptions(actor=None, team=team, events=["new_ticket"])

    with django_capture_on_commit_callbacks(execute=True):
        ticket = desk.create_ticket(org, actor=None, subject="Printer", team=team)
    [notification] = Notification.objects.filter(user=member)
    delivery.attempt(notification.pk, _claim(notification))

    [sent] = mail.outbox
    assert sent.to == ["member@provider.example"]
    assert f"[{ticket.reference}]" in sent.subject
    assert sent.extra_headers["References"] == desk_mail.thread_id(ticket)
    assert sent.extra_headers["Message-ID"].startswith(f"<notify-{notification.pk}.")
    assert "+t" in sent.extra_headers["Reply-To"]


def test_an_answer_to_a_notification_is_threaded_to_its_ticket(org):
    ContactFactory.create(organization=org, email="lee@acme.example")
    agent = UserFactory.create(role=Role.AGENT)
    ticket = TicketFactory.create(organization=org, subject="Disk full")
    [notification] = sending.notify_user(agent, subject="New", body="b", ticket=ticket)
    delivery.attempt(notification.pk, _claim(notification))
    [sent] = mail.outbox
    answer = EmailMessage()
    answer["From"] = "lee@acme.example"
    answer["To"] = "support@provider.example"
    answer["Subject"] = "Re: something"
    answer["Message-ID"] = "<answer@acme.example>"
    answer["In-Reply-To"] = sent.extra_headers["Message-ID"]
    answer.set_content("Cleared some space.")

    outcome = receive(bytes(answer))

    assert outcome.status == InboundStatus.REPLY
    assert outcome.ticket == ticket
    assert Reply.objects.filter(ticket=ticket, body="Cleared some space.").exists()
