"""The intake's machinery: the processing timer, the poll timer, the commands and the SMTP
listener's hooks, without outside servers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from django.core.exceptions import ValidationError
from django.test import override_settings

from buttress.cli import cli, process_kinds
from buttress.desk import smtpd
from buttress.desk.models import InboundMail, InboundStatus, Mailbox, Ticket
from buttress.desk.services import inbound, mailboxes
from buttress.desk.tasks.inbound import poll_mailbox, process_inbound
from buttress.desk.tests.test_inbound import message
from buttress.lib import secretbox
from buttress.lib.timeutil import now
from buttress.scheduler.claims import claim_due
from buttress.scheduler.registry import get_timer
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def dana(org):
    return ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")


def test_a_stored_message_whose_processing_was_lost_is_processed_by_the_timer(dana):
    stored, new = inbound.store(message())
    assert new
    assert stored.status == InboundStatus.RECEIVED

    claimed = claim_due(get_timer("desk.inbound_mail"), at=now() + timedelta(minutes=3))
    stored.refresh_from_db()
    assert claimed == 1
    assert stored.process_due_at is not None
    assert process_inbound.call(stored.pk, stored.process_due_at.isoformat()) is True
    assert process_inbound.call(stored.pk, stored.process_due_at.isoformat()) is False

    stored.refresh_from_db()
    assert stored.status == InboundStatus.NEW_TICKET
    assert stored.process_due_at is None
    assert Ticket.objects.count() == 1


def test_a_failed_poll_is_kept_and_the_next_one_scheduled():
    mailbox = mailboxes.create_mailbox(
        actor=None,
        name="nowhere",
        host="127.0.0.1",
        port=1,
        security="none",
        username="u",
        password="p",
    )
    assert mailbox.poll_due_at is not None
    Mailbox.objects.filter(pk=mailbox.pk).update(poll_due_at=now() - timedelta(seconds=1))
    assert claim_due(get_timer("desk.mailbox_poll"), at=now()) == 1
    mailbox.refresh_from_db()
    assert mailbox.poll_due_at is not None

    assert poll_mailbox.call(mailbox.pk, mailbox.poll_due_at.isoformat()) is True

    mailbox.refresh_from_db()
    assert "cannot connect" in mailbox.last_error
    assert mailbox.poll_due_at is not None
    assert mailbox.poll_due_at > now() + timedelta(seconds=30)


def test_a_disabled_mailbox_is_not_polled():
    mailbox = mailboxes.create_mailbox(
        actor=None,
        name="off",
        host="127.0.0.1",
        port=1,
        security="none",
        username="u",
        password="p",
        is_enabled=False,
    )

    assert mailbox.poll_due_at is None
    assert claim_due(get_timer("desk.mailbox_poll"), at=now() + timedelta(days=1)) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"security": "none", "host": "imap.example.com"}, "security"),
        ({"port": 0}, "port"),
        ({"poll_interval_seconds": 1}, "poll_interval_seconds"),
        ({"done_folder": "INBOX"}, "done_folder"),
        ({"host": " "}, "host"),
    ],
)
def test_bad_mailbox_settings_name_the_field(fields, field):
    values = {"name": "m", "host": "127.0.0.1", "username": "u", "password": "p", **fields}

    with pytest.raises(ValidationError) as caught:
        mailboxes.create_mailbox(actor=None, **values)

    assert field in caught.value.message_dict


def test_a_password_sealed_under_another_secret_key_cannot_be_read(settings):
    sealed = secretbox.seal("hunter2")
    settings.SECRET_KEY = "another-secret-key-entirely-" + "x" * 30

    with pytest.raises(secretbox.SecretUnreadable, match="enter it again"):
        secretbox.unseal(sealed)


def test_mail_poll_without_mailboxes_says_so():
    result = CliRunner().invoke(cli, ["mail", "poll"])

    assert result.exit_code == 1
    assert "no enabled mailbox is configured" in result.output


def test_mail_ingest_refuses_an_oversized_message_with_the_reason(dana, settings):
    settings.DESK_MAIL_MAX_BYTES = 500

    result = CliRunner().invoke(cli, ["mail", "ingest"], input=message(body="z" * 2000))

    assert result.exit_code == 1
    assert "larger than" in result.output
    assert not InboundMail.objects.exists()


@override_settings(SMTPD_DOMAINS=[])
def test_smtpd_without_domains_refuses_to_start():
    result = CliRunner().invoke(cli, ["smtpd", "--bind", "127.0.0.1:2599"])

    assert result.exit_code == 1
    assert "BUTTRESS_SMTPD_DOMAINS is empty" in result.output


def test_run_starts_the_listener_only_when_configured():
    assert "smtpd" not in process_kinds("db")
    assert process_kinds("db", smtpd=True) == [
        "web",
        "worker",
        "scheduler",
        "runner",
        "intake",
        "smtpd",
    ]


def test_the_listener_takes_only_its_domains_and_addresses():
    allowed = ["provider.example", "alerts@other.example"]
    handler = smtpd.DeskHandler(allowed)
    envelope = SimpleNamespace(rcpt_tos=[])

    def rcpt(address: str) -> str:
        return asyncio.run(handler.handle_RCPT(None, None, envelope, address, []))  # type: ignore[arg-type]

    assert rcpt("Support@Provider.Example").startswith("250")
    assert rcpt("alerts@other.example").startswith("250")
    assert rcpt("someone@other.example").startswith("550")
    assert rcpt("support@provider.example.evil").startswith("550")
    assert envelope.rcpt_tos == ["Support@Provider.Example", "alerts@other.example"]


def test_the_listener_answers_552_past_the_limit_and_451_when_storing_fails(settings, monkeypatch):
    settings.DESK_MAIL_MAX_BYTES = 100
    handler = smtpd.DeskHandler(["provider.example"])
    big = SimpleNamespace(
        original_content=b"x" * 500, rcpt_tos=["a@provider.example"], mail_from=""
    )

    assert asyncio.run(handler.handle_DATA(None, None, big)).startswith("552 ")  # type: ignore[arg-type]

    def broken(raw: bytes, recipients: list[str]) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(smtpd, "store_and_queue", broken)
    small = SimpleNamespace(
        original_content=b"x" * 50, rcpt_tos=["a@provider.example"], mail_from=""
    )
    assert asyncio.run(handler.handle_DATA(None, None, small)).startswith("451 ")  # type: ignore[arg-type]
