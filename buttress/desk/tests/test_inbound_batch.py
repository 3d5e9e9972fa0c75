"""Several messages taken in at once (group commit): each stored, each with its own outcome."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from django.db import DatabaseError, IntegrityError

from buttress.cli import cli
from buttress.desk import services as desk
from buttress.desk.models import InboundMail, InboundStatus, Reply, Ticket
from buttress.desk.services import inbound
from buttress.desk.services.inbound import MessageTooLarge, Outcome, receive_many, store_many
from buttress.desk.tasks.inbound import process_inbound
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


def message(*, subject: str, message_id: str, body: str = "It jams on every page.") -> bytes:
    mail = EmailMessage()
    mail["From"] = "Dana <dana@acme.example>"
    mail["To"] = "desk@provider.example"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    mail.set_content(body)
    return bytes(mail)


@pytest.fixture
def dana(org):
    return ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")


def outcomes(answers: list[Outcome | MessageTooLarge]) -> list[Outcome]:
    assert all(isinstance(answer, Outcome) for answer in answers)
    return [answer for answer in answers if isinstance(answer, Outcome)]


def test_a_batch_opens_tickets_adds_replies_and_handles_a_repeat_once(dana, agent):
    ticket = desk.create_ticket(dana.organization, actor=agent, subject="VPN", requester=dana)
    first = message(subject="Printer jammed", message_id="<a@x>")

    answers = outcomes(
        receive_many(
            [
                first,
                message(subject=f"Re: [{ticket.reference}] VPN", message_id="<b@x>", body="Down."),
                first,
                message(subject="Screen flickers", message_id="<c@x>"),
            ]
        )
    )

    assert [a.status for a in answers] == [
        InboundStatus.NEW_TICKET,
        InboundStatus.REPLY,
        InboundStatus.NEW_TICKET,
        InboundStatus.NEW_TICKET,
    ]
    assert [a.duplicate for a in answers] == [False, False, True, False]
    assert answers[2].ticket == answers[0].ticket
    assert answers[1].ticket == ticket
    assert Reply.objects.get(ticket=ticket).body == "Down."
    assert InboundMail.objects.count() == 3
    assert Ticket.objects.count() == 3
    assert set(InboundMail.objects.values_list("process_due_at", flat=True)) == {None}


def test_a_message_that_fails_is_quarantined_and_the_others_are_taken(dana, monkeypatch):
    real = desk.create_ticket

    def failing(organization, **fields):
        if fields["subject"] == "Boom":
            raise RuntimeError("the desk is on fire")
        return real(organization, **fields)

    monkeypatch.setattr(inbound, "create_ticket", failing)

    answers = outcomes(
        receive_many(
            [
                message(subject="Printer jammed", message_id="<a@x>"),
                message(subject="Boom", message_id="<b@x>"),
                message(subject="Screen flickers", message_id="<c@x>"),
            ]
        )
    )

    assert [a.status for a in answers] == [
        InboundStatus.NEW_TICKET,
        InboundStatus.QUARANTINED,
        InboundStatus.NEW_TICKET,
    ]
    assert "RuntimeError: the desk is on fire" in answers[1].reason
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "Printer jammed",
        "Screen flickers",
    ]
    failed = InboundMail.objects.get(message_id="<b@x>")
    assert (failed.status, failed.ticket) == (InboundStatus.QUARANTINED, None)
    assert bytes(failed.raw) == message(subject="Boom", message_id="<b@x>")


def test_a_message_too_large_is_answered_so_and_the_others_are_taken(dana, settings):
    settings.DESK_MAIL_MAX_BYTES = 2000

    answers = receive_many(
        [
            message(subject="Printer jammed", message_id="<a@x>"),
            message(subject="Huge", message_id="<b@x>", body="z" * 5000),
            message(subject="Screen flickers", message_id="<c@x>"),
        ]
    )

    assert isinstance(answers[1], MessageTooLarge)
    assert [a.status for a in answers if isinstance(a, Outcome)] == [InboundStatus.NEW_TICKET] * 2
    assert sorted(InboundMail.objects.values_list("message_id", flat=True)) == ["<a@x>", "<c@x>"]


def test_when_the_batch_fails_as_a_whole_each_message_is_processed_alone(dana, monkeypatch):
    real = inbound.process_stored
    calls: list[int] = []

    def deadlocked_once(mail, **options):
        calls.append(mail.pk)
        if len(calls) == 2:
            raise DatabaseError("deadlock detected")
        return real(mail, **options)

    monkeypatch.setattr(inbound, "process_stored", deadlocked_once)

    answers = outcomes(
        receive_many(
            [
                message(subject="Printer jammed", message_id="<a@x>"),
                message(subject="Screen flickers", message_id="<b@x>"),
            ]
        )
    )

    assert [a.status for a in answers] == [InboundStatus.NEW_TICKET] * 2
    # The first ticket of the failed batch was rolled back: one ticket per message.
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "Printer jammed",
        "Screen flickers",
    ]
    assert list(InboundMail.objects.values_list("attempts", flat=True)) == [1, 1]
    assert len(calls) == 4


def test_a_message_received_before_is_a_repeat_in_a_later_batch(dana):
    first = message(subject="Printer jammed", message_id="<a@x>")
    before = outcomes(receive_many([first]))[0]

    again = outcomes(receive_many([message(subject="Other", message_id="<b@x>"), first]))

    assert again[1].duplicate
    assert again[1].ticket == before.ticket
    assert InboundMail.objects.count() == 2


def test_a_conflict_while_storing_the_batch_stores_each_alone(dana, monkeypatch):
    # Another receiver stored one of them at the same moment: the batch INSERT conflicts.
    def conflicting(rows, **options):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(InboundMail.objects, "bulk_create", conflicting)
    first = message(subject="Printer jammed", message_id="<a@x>")

    answers = store_many([first, message(subject="Other", message_id="<b@x>"), first])

    stored = [answer for answer in answers if not isinstance(answer, Exception)]
    assert [new for _, new in stored] == [True, True, False]
    assert stored[2][0].pk == stored[0][0].pk
    assert InboundMail.objects.count() == 2


def test_cli_takes_a_maildir_in_batches_and_leaves_an_oversized_message(dana, tmp_path, settings):
    settings.DESK_MAIL_MAX_BYTES = 2000
    (tmp_path / "new").mkdir()
    for name, subject, body in (
        ("1.eml", "Printer jammed", "Jams."),
        ("2.eml", "Huge", "z" * 5000),
        ("3.eml", "Screen flickers", "Flickers."),
    ):
        (tmp_path / "new" / name).write_bytes(
            message(subject=subject, message_id=f"<{name}@x>", body=body)
        )

    result = CliRunner().invoke(cli, ["mail", "ingest", "--batch", "2", str(tmp_path)])

    assert result.exit_code == 1
    assert "1.eml: new_ticket" in result.output
    assert "3.eml: new_ticket" in result.output
    assert "2.eml: The message" in result.output
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["2.eml"]
    assert sorted(p.name for p in (tmp_path / "cur").iterdir()) == ["1.eml:2,S", "3.eml:2,S"]
    assert Ticket.objects.count() == 2


def test_a_processing_task_takes_the_other_waiting_messages_with_its_own(dana, monkeypatch):
    real = desk.create_ticket

    def failing(organization, **fields):
        if fields["subject"] == "Boom":
            raise RuntimeError("the desk is on fire")
        return real(organization, **fields)

    monkeypatch.setattr(inbound, "create_ticket", failing)
    stored = []
    for subject, mid in (("Printer jammed", "<a@x>"), ("Boom", "<b@x>"), ("Screen", "<c@x>")):
        mail, _ = inbound.store(message(subject=subject, message_id=mid), recipients=[])
        assert mail.process_due_at is not None
        stored.append((mail.pk, mail.process_due_at.isoformat()))

    assert process_inbound.call(*stored[0]) is True
    assert [process_inbound.call(*claim) for claim in stored[1:]] == [False, False]

    assert dict(InboundMail.objects.values_list("message_id", "status")) == {
        "<a@x>": InboundStatus.NEW_TICKET,
        "<b@x>": InboundStatus.QUARANTINED,
        "<c@x>": InboundStatus.NEW_TICKET,
    }
    assert Ticket.objects.count() == 2
    assert list(InboundMail.objects.values_list("attempts", flat=True)) == [1, 1, 1]


def test_a_message_a_worker_took_meanwhile_is_answered_as_it_stands(dana, monkeypatch):
    real = inbound.store

    def stored_then_taken(raw, **options):
        mail, new = real(raw, **options)
        # A worker's group commit takes it between the two transactions of receive().
        assert mail.process_due_at is not None
        process_inbound.call(mail.pk, mail.process_due_at.isoformat())
        return mail, new

    monkeypatch.setattr(inbound, "store", stored_then_taken)

    outcome = inbound.receive(message(subject="Printer jammed", message_id="<a@x>"))

    assert outcome.status == InboundStatus.NEW_TICKET
    assert outcome.ticket == Ticket.objects.get()
    assert InboundMail.objects.get().attempts == 1


def test_a_waiting_message_that_breaks_the_database_is_left_to_its_own_run(dana, monkeypatch):
    real = inbound.process_stored

    def breaking(mail, **options):
        if mail.subject == "Boom":
            raise DatabaseError("could not extend file")
        return real(mail, **options)

    monkeypatch.setattr(inbound, "process_stored", breaking)
    claims = []
    for subject, mid in (("Printer jammed", "<a@x>"), ("Boom", "<b@x>"), ("Screen", "<c@x>")):
        mail, _ = inbound.store(message(subject=subject, message_id=mid))
        assert mail.process_due_at is not None
        claims.append((mail.pk, mail.process_due_at.isoformat()))

    assert process_inbound.call(*claims[0]) is True

    left = InboundMail.objects.get(message_id="<b@x>")
    assert (left.status, left.process_due_at is not None) == (InboundStatus.RECEIVED, True)
    assert InboundMail.objects.get(message_id="<c@x>").status == InboundStatus.NEW_TICKET
    assert Ticket.objects.count() == 2
