"""Reviewing received mail: the quarantine page, retry and discard, and the same in the API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.api.tests.conftest import api_as
from buttress.audit.models import AuditEntry
from buttress.desk.models import InboundMail, InboundStatus, Mailbox
from buttress.desk.services.inbound import receive
from buttress.desk.tests.test_inbound import message
from buttress.lib import secretbox
from buttress.testing.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def quarantined(org) -> InboundMail:
    html = (
        b"From: lee@acme.example\r\nSubject: Help\r\nMessage-ID: <q1@x>\r\n"
        b"Content-Type: text/html\r\n\r\n<p>Please help</p><script>alert(1)</script>\r\n"
    )
    receive(html)
    return InboundMail.objects.get()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_quarantine_lists_the_reason_and_shows_safe_text(agent, quarantined):
    client = _client(agent)

    listing = client.get(reverse("desk:mail_list"))
    page = client.get(reverse("desk:mail_detail", kwargs={"mail_id": quarantined.pk}))

    assert listing.status_code == 200
    assert "the sender belongs to no organisation" in listing.content.decode()
    body = page.content.decode()
    assert "Please help" in body
    assert "alert(1)" not in body
    assert "Message-ID" in body


def test_retry_after_adding_the_contact_opens_the_ticket(agent, org, quarantined):
    ContactFactory.create(organization=org, name="Lee", email="lee@acme.example")

    answer = _client(agent).post(reverse("desk:mail_retry", kwargs={"mail_id": quarantined.pk}))

    assert answer.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.status == InboundStatus.NEW_TICKET
    assert AuditEntry.objects.filter(note__contains="retried").exists()


def test_discard_is_audited(agent, quarantined):
    answer = _client(agent).post(reverse("desk:mail_discard", kwargs={"mail_id": quarantined.pk}))

    assert answer.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.status == InboundStatus.DISCARDED
    entry = AuditEntry.objects.get(note__contains="discarded")
    assert entry.actor == agent


def test_a_viewer_may_look_but_not_retry(viewer, quarantined):
    client = _client(viewer)

    assert (
        client.get(reverse("desk:mail_detail", kwargs={"mail_id": quarantined.pk})).status_code
        == 200
    )
    answer = client.post(reverse("desk:mail_retry", kwargs={"mail_id": quarantined.pk}))

    assert answer.status_code == 403


def test_staff_limited_to_an_organisation_do_not_see_mail_of_nobody(org, quarantined):
    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(org)

    answer = _client(limited).get(reverse("desk:mail_detail", kwargs={"mail_id": quarantined.pk}))

    assert answer.status_code == 404


def test_customers_get_no_mail_review(end_user, quarantined):
    client = _client(end_user)

    assert client.get(reverse("desk:mail_list")).status_code == 403
    assert (
        client.get(reverse("desk:mail_detail", kwargs={"mail_id": quarantined.pk})).status_code
        == 404
    )


def test_the_api_lists_and_retries(agent, org, quarantined):
    api = api_as(agent)

    listed = api.get("/inbound-mail", status="quarantined")
    detail = api.get(f"/inbound-mail/{quarantined.pk}")
    ContactFactory.create(organization=org, name="Lee", email="lee@acme.example")
    retried = api.post(f"/inbound-mail/{quarantined.pk}/retry")
    again = api.post(f"/inbound-mail/{quarantined.pk}/retry")

    assert [item["id"] for item in listed.json()["items"]] == [quarantined.pk]
    assert detail.json()["text"] == "Please help"
    assert retried.status_code == 200
    assert retried.json()["status"] == "new_ticket"
    assert again.status_code == 400
    assert again.json()["detail"] == {"status": ["Only quarantined mail can be retried."]}


def test_the_api_refuses_an_unknown_status_filter(agent):
    answer = api_as(agent).get("/inbound-mail", status="nonsense")

    assert answer.status_code == 400
    assert "status" in answer.json()["detail"]


def test_mailboxes_take_a_password_and_never_show_it(admin_user, agent):
    api = api_as(admin_user)

    created = api.post(
        "/mailboxes",
        {"name": "support", "host": "imap.provider.example", "username": "desk", "password": "pw1"},
    )
    bad = api.post(
        "/mailboxes",
        {"name": "x", "host": "imap.example", "username": "d", "password": "p", "security": "none"},
    )
    refused = api_as(agent).get("/mailboxes")

    assert created.status_code == 201, created.json()
    assert "pw1" not in created.content.decode()
    assert created.json()["has_password"] is True
    mailbox = Mailbox.objects.get()
    assert secretbox.unseal(mailbox.password_encrypted) == "pw1"
    assert bad.status_code == 400
    assert "loopback" in bad.content.decode()
    assert refused.status_code == 403


def test_a_new_message_for_a_contact_is_not_in_the_quarantine(agent, org):
    ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")
    receive(message())

    answer = _client(agent).get(reverse("desk:mail_list"))

    assert "Printer jammed" not in answer.content.decode()
