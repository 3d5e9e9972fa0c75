from __future__ import annotations

import pytest
import time_machine
from django.contrib.auth import get_user
from django.test import Client
from django.urls import reverse

from buttress.accounts import services
from buttress.accounts.models import Role, User, UserSession
from buttress.accounts.tests.conftest import add_totp, current_code, sign_in
from buttress.testing.factories import PASSWORD

pytestmark = pytest.mark.django_db


# --- first-run setup -------------------------------------------------------------------------


def test_empty_installation_sends_every_page_to_setup(client):
    for path in ("/", "/login/", "/users/", "/no-such-page/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("accounts:setup")


def test_empty_installation_leaves_machine_endpoints_alone(client):
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/healthz").status_code != 302


def test_setup_creates_the_first_admin_and_signs_them_in(client):
    response = client.post(
        reverse("accounts:setup"),
        {
            "email": "Boss@Example.com",
            "full_name": "The Boss",
            "password1": "a long unusual passphrase",
            "password2": "a long unusual passphrase",
        },
    )

    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "boss@example.com"
    assert user.role == Role.ADMIN
    assert client.get(reverse("accounts:profile")).status_code == 200
    assert UserSession.objects.filter(user=user).exists()


def test_setup_rejects_mismatched_or_weak_passwords(client):
    mismatch = client.post(
        reverse("accounts:setup"),
        {"email": "a@example.com", "full_name": "A", "password1": "x" * 12, "password2": "y" * 12},
    )
    weak = client.post(
        reverse("accounts:setup"),
        {"email": "a@example.com", "full_name": "A", "password1": "123", "password2": "123"},
    )

    assert b"The two passwords differ." in mismatch.content
    assert b"too short" in weak.content
    assert not User.objects.exists()


def test_setup_is_gone_once_a_user_exists(client, agent):
    assert client.get(reverse("accounts:setup")).status_code == 404
    response = client.post(
        reverse("accounts:setup"),
        {
            "email": "second@example.com",
            "full_name": "Late",
            "password1": "a long unusual passphrase",
            "password2": "a long unusual passphrase",
        },
    )
    assert response.status_code == 404
    assert client.get(reverse("accounts:login")).status_code == 200


# --- session tracking ------------------------------------------------------------------------


def test_session_opened_elsewhere_is_tracked_on_its_first_request(client, agent):
    client.force_login(agent)

    client.get(reverse("accounts:profile"), HTTP_USER_AGENT="Mozilla/5.0 Firefox/130.0")

    session = UserSession.objects.get(user=agent)
    assert session.session_key == client.session.session_key
    assert "Firefox" in session.user_agent


def test_last_seen_is_written_at_most_once_a_minute(client, agent):
    with time_machine.travel("2026-03-01 10:00:00Z", tick=False):
        sign_in(client, agent.email, PASSWORD)
    with time_machine.travel("2026-03-01 10:00:30Z", tick=False):
        client.get(reverse("accounts:profile"))
    assert UserSession.objects.get().last_seen_at.minute == 0
    assert UserSession.objects.get().last_seen_at.second == 0

    with time_machine.travel("2026-03-01 10:01:05Z", tick=False):
        client.get(reverse("accounts:profile"))
    assert UserSession.objects.get().last_seen_at.minute == 1


def test_request_of_a_revoked_session_is_signed_out(client, agent):
    sign_in(client, agent.email, PASSWORD)
    # Only the tracking row goes, as when the session store is a cache the revoker can't reach.
    UserSession.objects.filter(user=agent).delete()

    response = client.get(reverse("accounts:profile"))

    assert response.status_code == 302
    assert not get_user(client).is_authenticated


# --- two-factor enforcement ------------------------------------------------------------------


def test_staff_without_second_factor_is_sent_to_set_one_up(client, settings, agent):
    settings.REQUIRE_STAFF_2FA = True
    client.force_login(agent)

    response = client.get(reverse("accounts:tokens"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:security")
    assert client.get(reverse("accounts:security")).status_code == 200
    assert client.post(reverse("accounts:logout")).status_code == 302


def test_htmx_request_is_told_to_navigate_to_security(client, settings, agent):
    settings.REQUIRE_STAFF_2FA = True
    client.force_login(agent)

    response = client.get(reverse("accounts:sessions"), HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == reverse("accounts:security")


def test_enforcement_does_not_touch_the_api(settings, agent):
    settings.REQUIRE_STAFF_2FA = True
    issued = services.create_token(agent, actor=agent, name="script")

    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {issued.secret}"})

    assert response.status_code == 200


def test_enforcement_leaves_customers_alone(client, settings, end_user):
    settings.REQUIRE_STAFF_2FA = True
    client.force_login(end_user)

    assert client.get(reverse("accounts:tokens")).status_code == 200


def test_enforcement_is_off_unless_configured(client, settings, agent):
    settings.REQUIRE_STAFF_2FA = False
    client.force_login(agent)

    assert client.get(reverse("accounts:tokens")).status_code == 200


def test_staff_signed_in_with_a_second_factor_passes(client, settings, agent):
    settings.REQUIRE_STAFF_2FA = True
    device = add_totp(agent)
    sign_in(client, agent.email, PASSWORD)
    client.post(reverse("accounts:login_verify"), {"code": current_code(device)})

    assert client.get(reverse("accounts:tokens")).status_code == 200
