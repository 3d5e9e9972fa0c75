"""Files on tickets: uploaded with replies, downloaded by who may see them, refused when bad."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.desk import services as desk
from buttress.desk.models import Attachment, EventKind
from buttress.desk.services import attachments
from buttress.desk.services.attachments import clean_filename
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def ticket(org, agent, end_user):
    end_user.contact = ContactFactory.create(organization=org)
    end_user.save()
    return desk.create_ticket(org, actor=agent, subject="Printer", requester=end_user.contact)


def _file(name: str = "log.txt", data: bytes = b"line 1\nline 2\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/plain")


def test_files_are_stored_under_random_names_with_their_digest(ticket, agent):
    [made] = attachments.attach(ticket, [_file()], actor=agent)

    assert made.filename == "log.txt"
    assert made.sha256 == hashlib.sha256(b"line 1\nline 2\n").hexdigest()
    assert "log.txt" not in str(made.file.name)
    assert ticket.events.filter(kind=EventKind.ATTACHED).count() == 1


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00name\n.txt", "badname.txt"),
        ("...", "file"),
        ("a" * 300 + ".log", "a" * 251 + ".log"),
    ],
)
def test_file_names_are_cleaned(raw, clean):
    assert clean_filename(raw) == clean


@override_settings(DESK_ATTACHMENT_MAX_BYTES=10)
def test_too_large_or_too_many_files_are_refused(ticket, agent):
    with pytest.raises(ValidationError) as large:
        attachments.attach(ticket, [_file(data=b"x" * 11)], actor=agent)
    with pytest.raises(ValidationError) as many:
        attachments.attach(ticket, [_file(data=b"x")] * 11, actor=agent)

    assert "larger than 10 bytes" in str(large.value)
    assert "At most 10" in str(many.value)
    assert not Attachment.objects.exists()


def test_reply_with_files_from_the_ticket_page(client: Client, ticket, agent):
    client.force_login(agent)

    response = client.post(
        reverse("desk:reply", args=[ticket.pk]),
        {"body": "See the note", "internal": "1", "upload": [_file("a.txt"), _file("b.txt")]},
    )

    assert response.status_code == 302
    files = list(Attachment.objects.order_by("filename"))
    assert [f.filename for f in files] == ["a.txt", "b.txt"]
    assert all(f.is_internal and f.reply is not None for f in files)
    page = client.get(reverse("desk:detail", args=[ticket.pk])).text
    assert reverse("desk:attachment", args=[files[0].pk]) in page


def test_customers_get_public_files_but_never_internal_ones(
    client: Client, ticket, agent, end_user
):
    [public] = attachments.attach(ticket, [_file("public.txt")], actor=agent)
    [internal] = attachments.attach(ticket, [_file("internal.txt")], actor=agent, internal=True)
    client.force_login(end_user)

    got = client.get(reverse("desk:attachment", args=[public.pk]))
    hidden = client.get(reverse("desk:attachment", args=[internal.pk]))

    assert got.status_code == 200
    assert b"".join(got.streaming_content) == b"line 1\nline 2\n"  # type: ignore[attr-defined]
    assert got["Content-Disposition"].startswith("attachment")
    assert got["X-Content-Type-Options"] == "nosniff"
    assert hidden.status_code == 404


def test_portal_request_and_reply_carry_files(client: Client, org, end_user):
    end_user.contact = ContactFactory.create(organization=org)
    end_user.save()
    client.force_login(end_user)

    client.post(
        reverse("portal:create"),
        {
            "type": "incident",
            "subject": "Screen flickers",
            "urgency": "low",
            "upload": [_file("s.png")],
        },
    )
    made = Attachment.objects.get()
    client.post(
        reverse("portal:detail", args=[made.ticket_id]),
        {"body": "More", "upload": [_file("t.txt")]},
    )

    assert Attachment.objects.count() == 2
    assert not Attachment.objects.filter(is_internal=True).exists()
    page = client.get(reverse("portal:detail", args=[made.ticket_id])).text
    assert "s.png" in page
    assert "t.txt" in page


def test_api_uploads_lists_and_downloads(ticket, agent, end_user):
    api = api_as(agent)

    uploaded = api.client.post(
        f"/api/v1/tickets/{ticket.pk}/attachments",
        {"files": [_file("x.txt")]},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    listed = api.get(f"/tickets/{ticket.pk}/attachments").json()
    content = api.get(listed[0]["url"])
    refused = api_as(end_user, raise_errors=False).client.post(
        f"/api/v1/tickets/{ticket.pk}/attachments?internal=true",
        {"files": [_file("y.txt")]},
        headers={"Authorization": f"Bearer {api_as(end_user).token}"},
    )
    empty = api_as(agent, raise_errors=False).post(f"/tickets/{ticket.pk}/attachments", {})

    assert uploaded.status_code == 201
    assert [a["filename"] for a in listed] == ["x.txt"]
    assert content.status_code == 200
    assert refused.status_code in (400, 422)
    assert "internal" in refused.text
    assert empty.status_code == 400
