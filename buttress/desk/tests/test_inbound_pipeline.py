"""Mail into the desk, the hard cases: threading order and its reasons, forged references,
bounces, automatic mail, floods, bad MIME and charsets, size limits, quarantine review, and
mail to an email alert integration."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.core import mail as outbox
from django.core.exceptions import ValidationError
from django.test import override_settings

from buttress.alerts.models import Alert, AlertStatus
from buttress.alerts.services import url_for
from buttress.alerts.tests.helpers import make_integration, process_pending
from buttress.desk import mail as desk_mail
from buttress.desk import services as desk
from buttress.desk.models import Attachment, InboundMail, InboundStatus, MailThread, Reply, Ticket
from buttress.desk.services import inbound
from buttress.desk.services.inbound import MessageTooLarge, receive
from buttress.desk.tasks import send_acknowledgement, send_over_limit_notice, send_reply
from buttress.desk.tests.test_inbound import message
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def dana(org):
    return ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")


@pytest.fixture
def ticket(dana, agent):
    return desk.create_ticket(dana.organization, actor=agent, subject="VPN", requester=dana)


def stored(outcome: inbound.Outcome) -> InboundMail:
    assert outcome.mail is not None
    return InboundMail.objects.get(pk=outcome.mail.pk)


# --- threading -------------------------------------------------------------------------------


def test_a_reply_to_a_sent_reply_threads_by_its_stored_message_id(ticket, agent):
    answer = desk.add_reply(ticket, actor=agent, body="Restart it.")
    assert send_reply.call(answer.pk)
    [sent] = outbox.outbox
    sent_id = sent.extra_headers["Message-ID"]
    assert MailThread.objects.filter(message_id=sent_id, ticket=ticket, outbound=True).exists()

    outcome = receive(message(subject="no tag here", message_id="<r1@x>", In_Reply_To=sent_id))

    assert outcome.ticket == ticket
    assert f"In-Reply-To/References names {sent_id}" in stored(outcome).decision


def test_message_ids_come_before_the_subject_tag(dana, agent, ticket):
    other = desk.create_ticket(dana.organization, actor=agent, subject="Printer", requester=dana)
    assert send_acknowledgement.call(ticket.pk)

    outcome = receive(
        message(
            subject=f"Re: [{other.reference}] Printer",
            message_id="<r2@x>",
            References=f"<unknown@elsewhere> {desk_mail.thread_id(ticket)}",
        )
    )

    assert outcome.ticket == ticket
    assert not other.replies.exists()


def test_the_signed_reply_address_threads_when_nothing_else_does(ticket, settings):
    settings.DESK_REPLY_TO = "Support <support@provider.example>"
    address = desk_mail.reply_address(ticket)
    assert f"+t{ticket.number}-" in address

    outcome = receive(message(subject="hello again", message_id="<r3@x>", Cc=address))

    assert outcome.ticket == ticket
    assert "signed tag" in stored(outcome).decision


def test_a_forged_token_is_refused_and_opens_a_new_ticket(ticket, settings):
    settings.DESK_REPLY_TO = "support@provider.example"
    forged = f"support+t{ticket.number}-{'0' * 20}@provider.example"

    outcome = receive(message(subject="hello", message_id="<r4@x>", Cc=forged))

    assert outcome.ticket != ticket
    assert "bad signature" in stored(outcome).decision


def test_a_forged_in_reply_to_never_threads_into_another_organisation(
    ticket, other_org, agent, dana
):
    theirs = desk.create_ticket(other_org, actor=agent, subject="Secret")
    MailThread.objects.remember(theirs, "<secret-thread@globex.example>", outbound=True)

    outcome = receive(
        message(
            subject=f"Re: [{theirs.reference}] Secret",
            message_id="<r5@x>",
            In_Reply_To="<secret-thread@globex.example>",
        )
    )

    assert outcome.ticket is not None
    assert outcome.ticket.organization == dana.organization
    assert not theirs.replies.exists()
    decision = stored(outcome).decision
    assert "another organisation's ticket; ignored" in decision
    assert "opened a new ticket" in decision


def test_a_reply_to_a_merged_ticket_lands_on_the_one_it_was_merged_into(ticket, agent, dana):
    target = desk.create_ticket(dana.organization, actor=agent, subject="VPN 2", requester=dana)
    desk.merge_tickets(ticket, into=target, actor=agent)

    outcome = receive(message(subject=f"Re: [{ticket.reference}] VPN", message_id="<r6@x>"))

    assert outcome.ticket == target
    assert f"merged into {target.reference}" in stored(outcome).decision


# --- machines, floods, bounces ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Precedence", "bulk"),
        ("X_Autoreply", "yes"),
        ("X_Autorespond", "vacation"),
        ("Auto_Submitted", "auto-generated"),
    ],
)
def test_automatic_mail_is_quarantined_with_the_header_that_gave_it_away(dana, header, value):
    outcome = receive(message(**{header: value}))

    assert outcome.status == InboundStatus.QUARANTINED
    assert header.replace("_", "-") in outcome.reason
    assert not Ticket.objects.exists()


@override_settings(DESK_MAIL_SENDER_LIMIT_PER_HOUR=3)
def test_a_sender_over_the_hourly_limit_is_quarantined(dana):
    outcomes = [receive(message(message_id=f"<flood{i}@x>")) for i in range(5)]

    assert [o.status for o in outcomes].count(InboundStatus.NEW_TICKET) == 3
    assert "more than 3 messages" in outcomes[-1].reason
    assert Ticket.objects.count() == 3


def _bounce(original_id: str) -> bytes:
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.acme.example>"
    report["To"] = "buttress@localhost"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = "<bounce1@mx.acme.example>"
    report.set_content("Your message could not be delivered.")
    report.make_mixed()
    status = EmailMessage()
    status.set_content("Final-Recipient: rfc822; gone@acme.example\nAction: failed\n")
    report.attach(status)
    headers = EmailMessage()
    headers["Message-ID"] = original_id
    headers["Subject"] = "Re: VPN"
    headers.set_content("x")
    report.add_attachment(headers)
    return bytes(report)


def test_a_bounce_of_a_sent_mail_is_noted_on_its_ticket(ticket):
    assert send_acknowledgement.call(ticket.pk)

    outcome = receive(_bounce(desk_mail.thread_id(ticket)))

    assert outcome.status == InboundStatus.BOUNCE
    assert outcome.ticket == ticket
    note = ticket.replies.get()
    assert note.is_internal
    assert "could not be delivered" in note.body
    assert Ticket.objects.count() == 1


def test_a_bounce_of_unknown_mail_is_recorded_and_opens_nothing(dana):
    outcome = receive(_bounce("<never-sent@x>"))

    assert outcome.status == InboundStatus.BOUNCE
    assert not Ticket.objects.exists()


# --- bad input -------------------------------------------------------------------------------


def test_html_is_reduced_to_text_without_its_scripts(dana):
    mail = EmailMessage()
    mail["From"] = "dana@acme.example"
    mail["Subject"] = "Screen"
    mail["Message-ID"] = "<h1@x>"
    mail.set_content(
        "<html><head><style>p{color:red}</style><script>steal()</script></head>"
        "<body><p>Hello <b>there</b> &amp; bye</p><img src=x onerror=alert(1)>"
        "<a href='javascript:evil()'>link</a></body></html>",
        subtype="html",
    )

    outcome = receive(bytes(mail))

    assert outcome.ticket is not None
    text = outcome.ticket.description
    assert "Hello there & bye" in text
    for bad in ("steal", "color:red", "onerror", "javascript", "<"):
        assert bad not in text


def test_encoded_word_headers_and_a_wrong_charset_are_read(dana):
    raw = (
        b"From: =?utf-8?q?Dana_M=C3=BCller?= <dana@acme.example>\r\n"
        b"Subject: =?iso-8859-1?q?Drucker_kaputt_=E4=F6=FC?=\r\n"
        b"Message-ID: <cs1@x>\r\n"
        b"Content-Type: text/plain; charset=klingon-8\r\n"
        b"\r\n"
        b"Gr\xc3\xbc\xc3\x9fe\r\n"
    )

    outcome = receive(raw)

    assert outcome.ticket is not None
    assert outcome.ticket.subject == "Drucker kaputt äöü"
    assert outcome.ticket.description == "Grüße"


def test_a_body_that_is_not_its_declared_charset_still_opens_a_ticket(dana):
    raw = (
        b"From: dana@acme.example\r\nSubject: caf\xe9\r\nMessage-ID: <cs2@x>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nna\xefve caf\xe9\r\n"
    )

    outcome = receive(raw)

    assert outcome.ticket is not None
    assert outcome.ticket.description == "naïve café"


@pytest.mark.parametrize(
    "raw",
    [
        b"From: dana@acme.example\r\nMessage-ID: <mm1@x>\r\nContent-Type: multipart/mixed\r\n"
        b"\r\nno boundary at all\r\n",
        b"From: dana@acme.example\r\nMessage-ID: <mm2@x>\r\nContent-Type: multipart/mixed; "
        b'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: '
        b"base64\r\n\r\n!!!not base64!!!\r\n",
        b"\x00\xff\xfe garbage with no headers",
    ],
)
def test_malformed_mime_is_stored_and_never_a_crash(dana, raw):
    outcome = receive(raw)

    kept = InboundMail.objects.get()
    assert bytes(kept.raw) == raw
    assert outcome.status in (InboundStatus.NEW_TICKET, InboundStatus.QUARANTINED)


def test_a_failure_while_processing_quarantines_with_the_reason(dana, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(inbound, "create_ticket", broken)

    outcome = receive(message())

    kept = InboundMail.objects.get()
    assert kept.status == InboundStatus.QUARANTINED
    assert "RuntimeError: disk on fire" in kept.reason
    assert outcome.ticket is None
    assert bytes(kept.raw) == message()


def test_a_message_over_the_limit_is_refused_with_a_clear_message(dana, settings):
    settings.DESK_MAIL_MAX_BYTES = 1000

    with pytest.raises(MessageTooLarge, match=r"\(\d(\.\d)? KB\) is larger than the 1000 bytes"):
        receive(message(body="x" * 5000))


def test_an_attachment_over_the_limit_is_left_out_and_the_sender_told(
    dana, settings, django_capture_on_commit_callbacks
):
    settings.DESK_ATTACHMENT_MAX_BYTES = 1024
    mail = EmailMessage()
    mail["From"] = "dana@acme.example"
    mail["Subject"] = "Logs"
    mail["Message-ID"] = "<big@x>"
    mail.set_content("Logs attached.")
    mail.add_attachment(b"y" * 4096, maintype="application", subtype="gzip", filename="big.gz")
    mail.add_attachment(b"small", maintype="text", subtype="plain", filename="small.txt")

    with django_capture_on_commit_callbacks() as callbacks:
        outcome = receive(bytes(mail))
    assert len(callbacks) == 2  # the acknowledgement and the notice
    assert send_over_limit_notice.call(stored(outcome).pk, ["big.gz (4 KB)"])

    assert outcome.ticket is not None
    assert list(Attachment.objects.values_list("filename", flat=True)) == ["small.txt"]
    note = Reply.objects.get(ticket=outcome.ticket, is_internal=True)
    assert "big.gz" in note.body
    [notice] = outbox.outbox
    assert notice.to == ["dana@acme.example"]
    assert "big.gz (4 KB)" in notice.body
    assert "larger than the 1 KB limit" in notice.body
    assert notice.extra_headers["Auto-Submitted"] == "auto-replied"


def test_a_duplicate_delivery_makes_one_ticket_even_with_other_transport_headers(dana):
    first = receive(message())
    again = receive(b"Received: from relay2\r\n" + message())

    assert again.duplicate
    assert first.ticket == again.ticket
    assert Ticket.objects.count() == 1
    assert InboundMail.objects.count() == 1


# --- review ----------------------------------------------------------------------------------


def test_a_quarantined_message_can_be_retried_once_its_sender_is_known(org, agent):
    outcome = receive(message(sender="lee@acme.example"))
    assert outcome.status == InboundStatus.QUARANTINED
    ContactFactory.create(organization=org, name="Lee", email="lee@acme.example")

    kept = InboundMail.objects.get()
    retried = inbound.retry(kept, actor=agent)

    assert retried.status == InboundStatus.NEW_TICKET
    kept.refresh_from_db()
    assert kept.ticket is not None
    assert kept.attempts == 2


def test_discarding_keeps_the_record_and_drops_the_content(dana, agent):
    receive(message(Auto_Submitted="auto-replied"))
    kept = InboundMail.objects.get()

    inbound.discard(kept, actor=agent)

    kept.refresh_from_db()
    assert kept.status == InboundStatus.DISCARDED
    assert bytes(kept.raw) == b""
    with pytest.raises(ValidationError):
        inbound.retry(kept, actor=agent)


# --- alerts ----------------------------------------------------------------------------------


def test_mail_to_an_email_integration_fires_and_resolves_an_alert(org, settings):
    settings.ALERTS_MAIL_ADDRESS = "alerts@provider.example"
    integration, key = make_integration(org, "email")
    address = url_for(integration, key=key)
    assert address == f"alerts+{key}@provider.example"

    fired = receive(
        message(
            sender="nagios@monitor.example",
            subject="PROBLEM: Disk full on db1",
            message_id="<a1@x>",
            Cc=address,
        )
    )
    process_pending()
    resolved = receive(
        message(
            sender="nagios@monitor.example",
            subject="RESOLVED: Disk full on db1",
            message_id="<a2@x>",
            Cc=address,
        )
    )
    process_pending()

    assert fired.status == resolved.status == InboundStatus.ALERT
    alert = Alert.objects.get()
    assert alert.summary == "Disk full on db1"
    assert alert.status == AlertStatus.RESOLVED
    assert alert.incident is not None
    assert alert.incident.status == "resolved"


def test_a_wrong_integration_key_is_ordinary_mail(org, settings, dana):
    settings.ALERTS_MAIL_ADDRESS = "alerts@provider.example"
    make_integration(org, "email")

    outcome = receive(message(Cc=f"alerts+{'a' * 42}@provider.example"))

    assert outcome.status == InboundStatus.NEW_TICKET
    assert not Alert.objects.exists()
