from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from buttress.accounts.models import SignInAttempt, UserSession
from buttress.accounts.services import SIGN_IN_IP_LIMIT, SIGN_IN_LIMIT
from buttress.accounts.tests.conftest import add_backup_codes, add_totp, current_code, sign_in
from buttress.audit.models import AuditEntry
from buttress.testing.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_password_alone_signs_in_a_user_without_a_second_factor(client, agent):
    response = sign_in(client, "Agent@Buttress.example", PASSWORD)

    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200
    assert UserSession.objects.filter(user=agent).count() == 1
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN)
    assert entry.actor == agent
    assert "password" in entry.note


def test_sign_in_returns_to_a_local_next_page_only(client, agent):
    local = client.post(
        "/login/", {"email": agent.email, "password": PASSWORD, "next": "/account/tokens/"}
    )
    assert local["Location"] == "/account/tokens/"
    client.post(reverse("accounts:logout"))

    foreign = client.post(
        "/login/", {"email": agent.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert "evil.example" not in foreign["Location"]


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, agent):
    response = sign_in(client, agent.email, "not-the-password")

    assert response.status_code == 200
    assert b"The email or password is not right." in response.content
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_inactive_user_cannot_sign_in(client):
    UserFactory(email="gone@buttress.example", is_active=False)

    response = sign_in(client, "gone@buttress.example", PASSWORD)

    assert b"The email or password is not right." in response.content


def test_password_step_alone_does_not_sign_in_a_user_with_a_second_factor(client, agent):
    add_totp(agent)

    response = sign_in(client, agent.email, PASSWORD)

    assert response["Location"] == reverse("accounts:login_verify")
    assert client.get(reverse("accounts:profile")).status_code == 302
    assert client.get("/api/v1/me").status_code == 401
    assert not UserSession.objects.exists()


def test_authenticator_code_completes_sign_in(client, agent):
    device = add_totp(agent)
    sign_in(client, agent.email, PASSWORD)

    response = client.post(reverse("accounts:login_verify"), {"code": current_code(device)})

    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN)
    assert "authenticator" in entry.note


def test_wrong_code_keeps_the_user_signed_out(client, agent):
    device = add_totp(agent)
    sign_in(client, agent.email, PASSWORD)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"

    response = client.post(reverse("accounts:login_verify"), {"code": wrong})

    assert response.status_code == 200
    assert b"That code is not right" in response.content
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_backup_code_signs_in_once(client, agent):
    add_totp(agent)
    add_backup_codes(agent, "abcd2345")
    sign_in(client, agent.email, PASSWORD)

    response = client.post(reverse("accounts:login_verify"), {"code": "ABCD 2345"})

    assert response.status_code == 302
    assert "backup code" in AuditEntry.objects.get(action=AuditEntry.Action.LOGIN).note
    client.post(reverse("accounts:logout"))
    sign_in(client, agent.email, PASSWORD)
    again = client.post(reverse("accounts:login_verify"), {"code": "abcd2345"})
    assert b"That code is not right" in again.content


def test_code_step_expires(client, agent):
    device = add_totp(agent)
    with time_machine.travel("2026-03-01 10:00:00Z", tick=False):
        sign_in(client, agent.email, PASSWORD)
    with time_machine.travel("2026-03-01 10:06:00Z", tick=False):
        response = client.post(reverse("accounts:login_verify"), {"code": current_code(device)})

    assert response["Location"] == reverse("accounts:login")
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_email_is_locked_after_repeated_failures_even_with_the_right_password(client, agent):
    for _ in range(SIGN_IN_LIMIT):
        sign_in(client, agent.email, "wrong-password")

    response = sign_in(client, agent.email, PASSWORD)

    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_lockout_ends_after_the_window(client, agent):
    with time_machine.travel("2026-03-01 10:00:00Z", tick=False):
        for _ in range(SIGN_IN_LIMIT):
            sign_in(client, agent.email, "wrong-password")
    with time_machine.travel("2026-03-01 10:16:00Z", tick=False):
        response = sign_in(client, agent.email, PASSWORD)

    assert response.status_code == 302


def test_address_is_locked_after_failures_across_many_emails(client, agent):
    for n in range(SIGN_IN_IP_LIMIT):
        sign_in(client, f"guess{n}@buttress.example", "wrong-password")

    response = sign_in(client, agent.email, PASSWORD)

    assert response.status_code == 429


def test_failures_from_another_address_do_not_lock_out_this_one_for_other_emails(client, agent):
    for _ in range(SIGN_IN_LIMIT):
        sign_in(client, "someone@buttress.example", "wrong", REMOTE_ADDR="203.0.113.9")

    response = sign_in(client, agent.email, PASSWORD, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302


def test_wrong_codes_count_towards_the_lockout(client, agent):
    device = add_totp(agent)
    sign_in(client, agent.email, PASSWORD)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    for _ in range(SIGN_IN_LIMIT):
        client.post(reverse("accounts:login_verify"), {"code": wrong})

    assert SignInAttempt.objects.filter(email=agent.email).count() == SIGN_IN_LIMIT
    response = client.post(reverse("accounts:login_verify"), {"code": current_code(device)})
    assert response["Location"] == reverse("accounts:login")
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_successful_sign_in_clears_the_email_failures(client, agent):
    for _ in range(SIGN_IN_LIMIT - 1):
        sign_in(client, agent.email, "wrong-password")

    sign_in(client, agent.email, PASSWORD)

    assert not SignInAttempt.objects.filter(email=agent.email).exists()


def test_logout_needs_post_and_is_audited(client, agent):
    sign_in(client, agent.email, PASSWORD)

    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))

    assert response["Location"] == reverse("accounts:login")
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOGOUT, actor=agent).exists()
    assert not UserSession.objects.filter(user=agent).exists()
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_login_page_labels_its_fields_for_password_managers(client, agent):
    response = client.get(reverse("accounts:login"))

    assert b'autocomplete="username"' in response.content
    assert b'autocomplete="current-password"' in response.content
    assert b'<label for="id_email"' in response.content
