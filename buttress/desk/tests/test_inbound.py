"""Mail into the desk: new tickets, replies threaded to their ticket, quarantine, duplicates."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from buttress.cli import cli
from buttress.desk import services as desk
from buttress.desk.models import Attachment, InboundMail, Source, Ticket
from buttress.desk.services.inbound import receive
from buttress.lib.mailparse import strip_quoted
from buttress.tenancy.models import Contact
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


def message(
    *,
    sender: str = "Dana <dana@acme.example>",
    subject: str = "Printer jammed",
    body: str = "It jams on every page.",
    message_id: str = "<m1@mail.acme.example>",
    **headers: str,
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "desk@provider.example"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return bytes(mail)


@pytest.fixture
def dana(org):
    return ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")


def test_a_message_from_a_contact_opens_a_ticket(dana):
    outcome = receive(message())

    ticket = Ticket.objects.get()
    assert outcome.ticket == ticket
    assert (ticket.requester, ticket.source, ticket.subject) == (
        dana,
        Source.EMAIL,
        "Printer jammed",
    )
    assert ticket.description == "It jams on every page."


def test_the_same_message_twice_is_handled_once(dana):
    receive(message())
    again = receive(message())

    assert again.duplicate
    assert Ticket.objects.count() == 1


def test_a_reply_by_reference_or_thread_joins_its_ticket(dana, agent):
    ticket = desk.create_ticket(dana.organization, actor=agent, subject="VPN", requester=dana)

    by_subject = receive(
        message(
            subject=f"Re: [{ticket.reference}] VPN",
            body="Still down.\n\nOn Monday Support wrote:\n> old",
            message_id="<m2@x>",
        )
    )
    by_thread = receive(
        message(
            subject="Re: VPN",
            body="And now?",
            message_id="<m3@x>",
            In_Reply_To=f"<ticket-{ticket.number}@127.0.0.1>",
        )
    )

    assert by_subject.ticket == by_thread.ticket == ticket
    bodies = list(ticket.replies.values_list("body", flat=True))
    assert bodies == ["Still down.", "And now?"]
    assert Ticket.objects.count() == 1


def test_a_reference_to_another_organisations_ticket_opens_a_new_one(dana, other_org, agent):
    theirs = desk.create_ticket(other_org, actor=agent, subject="Secret")

    outcome = receive(message(subject=f"[{theirs.reference}] hello"))

    assert outcome.ticket != theirs
    assert not theirs.replies.exists()
    assert outcome.ticket is not None
    assert outcome.ticket.organization == dana.organization


def test_a_new_sender_of_a_known_domain_becomes_a_contact(org):
    org.email_domains = ["acme.example"]
    org.save()

    outcome = receive(message(sender="Lee Park <lee@acme.example>"))

    contact = Contact.objects.get(email="lee@acme.example")
    assert (contact.organization, contact.name) == (org, "Lee Park")
    assert outcome.ticket is not None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"sender": "stranger@nowhere.example"}, "belongs to no organisation"),
        ({"sender": "buttress@localhost"}, "mail loop"),
        ({"Auto_Submitted": "auto-replied"}, "automatic mail"),
    ],
)
def test_unknown_looping_or_automatic_mail_is_quarantined(dana, headers, reason):
    outcome = receive(message(**headers))

    kept = InboundMail.objects.get()
    assert outcome.status == kept.status == "quarantined"
    assert reason in kept.reason
    assert bytes(kept.raw).startswith(b"From:") or b"From:" in bytes(kept.raw)
    assert not Ticket.objects.exists()


def test_attachments_come_with_the_message(dana):
    mail = EmailMessage()
    mail["From"] = "dana@acme.example"
    mail["Subject"] = "Screenshot"
    mail["Message-ID"] = "<m9@x>"
    mail.set_content("See attached.")
    mail.add_attachment(b"\x89PNG fake", maintype="image", subtype="png", filename="screen.png")

    receive(bytes(mail))

    assert list(Attachment.objects.values_list("filename", flat=True)) == ["screen.png"]


def test_quoted_text_is_left_out_of_replies():
    assert strip_quoted("Thanks!\n\n-----Original Message-----\nFrom: x") == "Thanks!"
    assert strip_quoted("> all quoted") == "> all quoted"


def test_cli_takes_a_maildir_and_stdin(dana, tmp_path: Path):
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "1.eml").write_bytes(message(message_id="<a@x>"))
    runner = CliRunner()

    folder = runner.invoke(cli, ["mail", "ingest", str(tmp_path)])
    stdin = runner.invoke(cli, ["mail", "ingest"], input=message(message_id="<b@x>"))
    missing = runner.invoke(cli, ["mail", "ingest", str(tmp_path / "nope")])

    assert folder.exit_code == 0, folder.output
    assert "new_ticket" in folder.output
    assert list((tmp_path / "cur").iterdir())
    assert stdin.exit_code == 0
    assert Ticket.objects.count() == 2
    assert missing.exit_code != 0
    assert "no such file" in missing.output
