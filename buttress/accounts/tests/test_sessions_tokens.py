from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.urls import reverse

from buttress.accounts import services
from buttress.accounts.models import ApiToken, UserSession
from buttress.accounts.tests.conftest import signed_in_browser
from buttress.accounts.views.me import describe_user_agent
from buttress.lib.timeutil import now

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"


def test_sessions_page_lists_this_users_sessions_and_marks_this_one(agent, admin_user):
    laptop = signed_in_browser(agent, HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="198.51.100.4")
    signed_in_browser(agent, REMOTE_ADDR="203.0.113.8")
    signed_in_browser(admin_user, REMOTE_ADDR="192.0.2.99")

    page = laptop.get(reverse("accounts:sessions"))

    assert page.content.count(b"<tr>") == 3  # heading row and two sessions
    assert b"Firefox on Linux" in page.content
    assert b"203.0.113.8" in page.content
    assert b"192.0.2.99" not in page.content
    assert page.content.count(b"This session") == 1


def test_revoking_a_session_signs_that_browser_out(agent):
    laptop = signed_in_browser(agent)
    phone = signed_in_browser(agent)
    phone_session = UserSession.objects.get(session_key=phone.session.session_key)

    laptop.post(reverse("accounts:sessions"), {"action": "revoke", "session": phone_session.pk})

    assert phone.get(reverse("accounts:profile")).status_code == 302
    assert laptop.get(reverse("accounts:profile")).status_code == 200
    assert not Session.objects.filter(session_key=phone_session.session_key).exists()


def test_revoking_all_others_keeps_this_session(agent):
    laptop = signed_in_browser(agent)
    others = [signed_in_browser(agent) for _ in range(2)]

    laptop.post(reverse("accounts:sessions"), {"action": "revoke_others"})

    assert all(o.get(reverse("accounts:profile")).status_code == 302 for o in others)
    assert laptop.get(reverse("accounts:profile")).status_code == 200
    assert UserSession.objects.filter(user=agent).count() == 1


def test_another_users_session_cannot_be_revoked(agent, viewer):
    mine = signed_in_browser(agent)
    theirs = signed_in_browser(viewer)
    their_session = UserSession.objects.get(user=viewer)

    response = mine.post(
        reverse("accounts:sessions"), {"action": "revoke", "session": their_session.pk}
    )

    assert response.status_code == 404
    assert theirs.get(reverse("accounts:profile")).status_code == 200


def test_changing_password_keeps_this_session_and_ends_the_others(agent):
    laptop = signed_in_browser(agent)
    phone = signed_in_browser(agent)
    new = "a brand new passphrase"

    response = laptop.post(
        reverse("accounts:profile"),
        {
            "action": "password",
            "old_password": "correct-horse-battery-staple",
            "new_password1": new,
            "new_password2": new,
        },
    )

    assert response.status_code == 302
    assert laptop.get(reverse("accounts:profile")).status_code == 200
    assert phone.get(reverse("accounts:profile")).status_code == 302
    assert UserSession.objects.get(user=agent).session_key == laptop.session.session_key


def test_user_agents_are_summarised_for_people():
    assert describe_user_agent(FIREFOX) == "Firefox on Linux"
    assert describe_user_agent("") == "Unknown browser"
    assert describe_user_agent("curl/8.5.0") == "curl"


# --- tokens ----------------------------------------------------------------------------------


def test_new_token_is_shown_once_and_only_its_hash_is_stored(agent):
    browser = signed_in_browser(agent)

    created = browser.post(
        reverse("accounts:tokens"), {"action": "create", "name": "backup script", "scope": "write"}
    )

    token = ApiToken.objects.get(user=agent)
    secret = created.content.decode().split('id="issued-token" type="text" readonly value="')[1]
    secret = secret.split('"')[0]
    assert secret.startswith(f"btr_{token.prefix}_")
    assert "no-store" in created["Cache-Control"]
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    bare = secret.split("_", 2)[2]
    assert not any(bare in str(value) for value in row.values())
    assert row["digest"] == ApiToken.hash_secret(bare)
    assert services.authenticate_token(secret) == token
    listing = browser.get(reverse("accounts:tokens"))
    assert secret.encode() not in listing.content
    assert b"backup script" in listing.content


def test_token_expiry_must_be_in_the_future(agent):
    browser = signed_in_browser(agent)
    yesterday = (now() - timedelta(days=1)).date().isoformat()

    response = browser.post(
        reverse("accounts:tokens"),
        {"action": "create", "name": "old", "scope": "read", "expires_on": yesterday},
    )

    assert b"Choose a day in the future." in response.content
    assert not ApiToken.objects.exists()


def test_token_stops_working_when_it_expires(agent):
    with time_machine.travel("2026-03-01 10:00:00Z", tick=False):
        issued = services.create_token(
            agent, actor=agent, name="t", expires_at=now() + timedelta(days=1)
        )
        assert services.authenticate_token(issued.secret) is not None
    with time_machine.travel("2026-03-02 10:00:01Z", tick=False):
        assert services.authenticate_token(issued.secret) is None


def test_revoked_token_stops_working(agent):
    browser = signed_in_browser(agent)
    issued = services.create_token(agent, actor=agent, name="t")

    browser.post(reverse("accounts:tokens"), {"action": "revoke", "token": issued.token.pk})

    assert services.authenticate_token(issued.secret) is None
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None


def test_another_users_token_cannot_be_revoked(agent, viewer):
    browser = signed_in_browser(agent)
    theirs = services.create_token(viewer, actor=viewer, name="t")

    response = browser.post(
        reverse("accounts:tokens"), {"action": "revoke", "token": theirs.token.pk}
    )

    assert response.status_code == 404
    assert services.authenticate_token(theirs.secret) is not None
