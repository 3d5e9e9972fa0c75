"""A 25 MB file, the size the issue names, under the default limits: by mail, through the API
and through the portal. The limits are the settings' defaults, not lowered for the test."""

from __future__ import annotations

import hashlib
import random
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.desk import services as desk
from buttress.desk.models import Attachment, InboundStatus
from buttress.desk.services.attachments import DEFAULT_MAX_BYTES
from buttress.desk.services.inbound import DEFAULT_MAX_MESSAGE_BYTES, receive
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db

SIZE = 25 * 1024 * 1024


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DESK_ATTACHMENT_MAX_BYTES = DEFAULT_MAX_BYTES
    settings.DESK_MAIL_MAX_BYTES = DEFAULT_MAX_MESSAGE_BYTES


@pytest.fixture(scope="module")
def big() -> bytes:
    # Random bytes: nothing on the way may shrink them, as it could a run of one byte.
    return random.Random(25).randbytes(SIZE)


@pytest.fixture
def big_file(tmp_path: Path, big: bytes) -> Path:
    path = tmp_path / "capture.pcap"
    path.write_bytes(big)
    return path


def _stored(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as handle:
        data: bytes = handle.read()
    return data


def test_the_default_limits_admit_a_25_mb_file_and_its_mail():
    assert django_settings.DESK_ATTACHMENT_MAX_BYTES >= SIZE
    # Base64 makes a file a third larger, with line ends on top.
    assert django_settings.DESK_MAIL_MAX_BYTES >= SIZE * 4 // 3 * 78 // 76 + 64 * 1024


def test_a_25_mb_attachment_arrives_by_mail(org, big):
    ContactFactory.create(organization=org, email="dana@acme.example")
    mail = EmailMessage()
    mail["From"] = "dana@acme.example"
    mail["To"] = "desk@provider.example"
    mail["Subject"] = "Packet capture"
    mail["Message-ID"] = "<capture@acme.example>"
    mail.set_content("The capture of the outage.")
    mail.add_attachment(big, maintype="application", subtype="vnd.tcpdump.pcap", filename="c.pcap")

    outcome = receive(bytes(mail))

    assert outcome.status == InboundStatus.NEW_TICKET
    [attachment] = Attachment.objects.filter(ticket=outcome.ticket)
    assert attachment.size == SIZE
    assert attachment.sha256 == hashlib.sha256(big).hexdigest()
    assert _stored(attachment) == big


def test_a_25_mb_file_uploads_through_the_api(org, agent, big, big_file):
    ticket = desk.create_ticket(org, actor=agent, subject="Outage")
    api = api_as(agent)

    with big_file.open("rb") as handle:
        response = api.client.post(
            f"/api/v1/tickets/{ticket.pk}/attachments",
            {"files": [handle]},
            headers={"Authorization": f"Bearer {api.token}"},
        )

    assert response.status_code == 201, response.content
    [attachment] = Attachment.objects.filter(ticket=ticket)
    assert response.json()[0]["size"] == SIZE
    assert attachment.sha256 == hashlib.sha256(big).hexdigest()


def test_a_25_mb_file_uploads_through_the_portal(org, end_user, big, big_file):
    end_user.contact = ContactFactory.create(organization=org)
    end_user.save()
    client = Client()
    client.force_login(end_user)

    with big_file.open("rb") as handle:
        response = client.post(
            reverse("portal:create"),
            {"type": "incident", "subject": "Outage", "urgency": "low", "upload": [handle]},
        )

    assert response.status_code == 302
    [attachment] = Attachment.objects.all()
    assert attachment.size == SIZE
    assert _stored(attachment) == big


def test_a_file_over_the_limit_is_refused_naming_the_limit(org, agent, tmp_path, settings):
    settings.DESK_ATTACHMENT_MAX_BYTES = 1536
    ticket = desk.create_ticket(org, actor=agent, subject="Outage")
    path = tmp_path / "big.log"
    path.write_bytes(b"x" * 2000)
    api = api_as(agent, raise_errors=False)

    with path.open("rb") as handle:
        response = api.client.post(
            f"/api/v1/tickets/{ticket.pk}/attachments",
            {"files": [handle]},
            headers={"Authorization": f"Bearer {api.token}"},
        )

    assert response.status_code == 400
    assert "big.log is larger than 1.5 KB" in response.content.decode()
    assert not Attachment.objects.exists()
