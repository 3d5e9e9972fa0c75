"""Duplicate deliveries are one message; a different message that reuses a Message-ID is
kept and held for review, never dropped as "already received"."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from buttress.desk.models import InboundMail, InboundStatus, Ticket
from buttress.desk.services import inbound
from buttress.desk.services.inbound import receive
from buttress.lib import mailparse
from buttress.testing.factories import ContactFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def senders(org):
    ContactFactory.create(organization=org, email="dana@acme.example")
    other = OrganizationFactory.create(name="Globex", slug="globex")
    ContactFactory.create(organization=other, email="mallory@globex.example")


def message(
    *,
    sender: str = "dana@acme.example",
    body: str = "The printer jams.",
    message_id: str | None = None,
    crlf: bool = False,
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "desk@provider.example"
    mail["Date"] = "Mon, 02 Mar 2026 09:00:00 +0000"
    mail["Subject"] = "Printer"
    if message_id:
        mail["Message-ID"] = message_id
    mail.set_content(body)
    raw = bytes(mail)
    return raw.replace(b"\n", b"\r\n") if crlf else raw


def relayed(raw: bytes, hop: str) -> bytes:
    return (
        f"Received: from {hop} by mx.provider.example; Mon, 2 Mar 2026 09:00:0{len(hop) % 10}\r\n"
        f"Delivered-To: desk-{hop}@provider.example\r\nReturn-Path: <bounce-{hop}@x>\r\n"
    ).encode() + raw


def test_without_a_message_id_the_same_mail_relayed_twice_is_one_ticket():
    first = receive(relayed(message(), "relay1"))
    again = receive(relayed(message(crlf=True), "relay2"))

    assert again.duplicate
    assert again.ticket == first.ticket
    assert Ticket.objects.count() == 1
    assert InboundMail.objects.count() == 1


def test_without_a_message_id_two_different_mails_are_two_tickets():
    receive(message(body="The printer jams."))
    receive(message(body="The scanner jams."))

    assert Ticket.objects.count() == 2


def test_the_digest_ignores_relay_headers_and_line_ends_but_not_the_body():
    def digest(raw: bytes) -> str:
        return mailparse.content_digest(mailparse.parse(raw), raw)

    assert digest(relayed(message(), "a")) == digest(relayed(message(crlf=True), "bb"))
    assert digest(message()) != digest(message(body="The printer jams!"))
    assert digest(message()) != digest(message(sender="mallory@globex.example"))


def test_a_redelivery_under_the_same_message_id_is_still_one_ticket():
    first = receive(message(message_id="<m1@acme.example>"))
    again = receive(relayed(message(message_id="<m1@acme.example>"), "relay2"))

    assert again.duplicate
    assert again.ticket == first.ticket
    assert InboundMail.objects.count() == 1


def test_another_senders_mail_reusing_a_message_id_is_quarantined_not_dropped():
    first = receive(message(message_id="<m1@acme.example>"))
    forged = receive(
        message(sender="mallory@globex.example", body="Wire money", message_id="<m1@acme.example>")
    )

    assert not forged.duplicate
    assert forged.status == InboundStatus.QUARANTINED
    assert forged.ticket is None
    held = InboundMail.objects.get(sender="mallory@globex.example")
    assert held.message_id == "<m1@acme.example>"
    assert bytes(held.raw).endswith(b"Wire money\n")
    assert f"already used by mail #{first.mail.pk if first.mail else 0}" in held.reason
    assert "dana@acme.example" in held.reason
    assert Ticket.objects.count() == 1


def test_the_same_sender_reusing_a_message_id_for_new_content_is_held_and_can_be_retried():
    receive(message(message_id="<same@acme.example>", body="First"))
    second = receive(message(message_id="<same@acme.example>", body="Second, different"))

    assert second.status == InboundStatus.QUARANTINED
    assert "the same sender" in second.reason
    assert second.mail is not None

    retried = inbound.retry(second.mail, actor=None)

    assert retried.status == InboundStatus.NEW_TICKET
    assert Ticket.objects.count() == 2
