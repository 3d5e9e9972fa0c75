from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from buttress.accounts.models import SignInAttempt, UserSession
from buttress.accounts.services import throttle
from buttress.accounts.tests.conftest import sign_in, signed_in_browser
from buttress.audit.models import AuditEntry
from buttress.testing.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("immediate_tasks")]

NEW_PASSWORD = "a different long passphrase"


def _link(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/password-reset/[^\s]+/)", str(message.body))
    assert match, message.body
    return match.group(1)


def test_reset_mail_carries_a_link_that_sets_a_new_password(client, agent, settings):
    settings.BASE_URL = "https://desk.example"
    other = signed_in_browser(agent)

    response = client.post(reverse("accounts:password_reset"), {"email": "AGENT@buttress.example"})

    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [agent.email]
    assert "buttress" in message.subject
    assert "https://desk.example/password-reset/" in message.body
    form_page = client.get(_link(message), follow=True)
    assert form_page.status_code == 200
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done["Location"] == reverse("accounts:password_reset_complete")
    agent.refresh_from_db()
    assert agent.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(note="password changed", actor=agent).exists()
    assert other.get(reverse("accounts:profile")).status_code == 302
    assert not UserSession.objects.filter(user=agent).exists()


def test_reset_link_works_only_once(client, agent):
    client.post(reverse("accounts:password_reset"), {"email": agent.email})
    link = _link(mail.outbox[0])
    page = client.get(link, follow=True)
    client.post(
        page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    again = client.get(link, follow=True)

    assert b"This link no longer works" in again.content


def test_unknown_email_gets_the_same_answer_and_no_mail(client, agent):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})

    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_inactive_account_gets_no_mail(client, agent):
    UserFactory(email="left@buttress.example", is_active=False)

    client.post(reverse("accounts:password_reset"), {"email": "left@buttress.example"})

    assert mail.outbox == []


def test_account_without_a_password_can_choose_its_first(client, org):
    person = UserFactory.create(email="new@acme.example", role="end_user", organization=org)
    person.set_unusable_password()
    person.save()

    client.post(reverse("accounts:password_reset"), {"email": person.email})

    assert len(mail.outbox) == 1
    assert "Choose your buttress password" in mail.outbox[0].subject


def test_reset_requests_are_throttled_per_email(client, agent):
    for _ in range(throttle.RESET_LIMIT_PER_EMAIL):
        client.post(reverse("accounts:password_reset"), {"email": agent.email})

    response = client.post(reverse("accounts:password_reset"), {"email": agent.email})

    assert response.status_code == 429
    assert len(mail.outbox) == throttle.RESET_LIMIT_PER_EMAIL


def test_completed_reset_lifts_a_sign_in_pause(client, agent):
    for _ in range(throttle.SIGN_IN_LIMIT):
        sign_in(client, agent.email, "wrong")
    client.post(reverse("accounts:password_reset"), {"email": agent.email})
    page = client.get(_link(mail.outbox[0]), follow=True)
    client.post(
        page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert not SignInAttempt.objects.filter(kind="failed_login", email=agent.email).exists()
    assert sign_in(client, agent.email, NEW_PASSWORD).status_code == 302
