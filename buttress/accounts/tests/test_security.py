from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from buttress.accounts import services
from buttress.accounts.tests.conftest import (
    add_backup_codes,
    add_totp,
    current_code,
    signed_in_browser,
)
from buttress.audit.models import AuditEntry
from buttress.lib.timeutil import now
from buttress.testing.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_setting_up_an_authenticator_shows_a_qr_code_then_backup_codes_once(agent):
    browser = signed_in_browser(agent)
    other = signed_in_browser(agent)

    browser.post(reverse("accounts:security"), {"action": "begin"})
    page = browser.get(reverse("accounts:security"))
    assert b"<svg" in page.content
    assert "no-store" in page["Cache-Control"]
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    confirmed = browser.post(
        reverse("accounts:security"), {"action": "confirm", "code": current_code(device)}
    )

    assert confirmed.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", confirmed.content.decode())
    stored = {t.token for t in StaticToken.objects.filter(device__user=agent)}
    assert len(codes) == services.BACKUP_CODE_COUNT
    # Only keyed digests are kept: no shown code is in the database.
    assert stored == {services.backup_code_digest(code) for code in codes}
    assert not stored & set(codes)
    assert services.has_two_factor(agent)
    later = browser.get(reverse("accounts:security"))
    assert not any(code.encode() in later.content for code in codes)
    # The other browser signed in with the password alone, so it is signed out.
    assert other.get(reverse("accounts:profile")).status_code == 302
    assert browser.get(reverse("accounts:profile")).status_code == 200
    assert AuditEntry.objects.filter(note="two-factor authentication turned on").exists()


def test_setup_refuses_a_wrong_code(agent):
    browser = signed_in_browser(agent)
    browser.post(reverse("accounts:security"), {"action": "begin"})
    device = TOTPDevice.objects.get(user=agent)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"

    response = browser.post(reverse("accounts:security"), {"action": "confirm", "code": wrong})

    assert b"That code is not right" in response.content
    assert not services.has_two_factor(agent)


def test_turning_off_needs_password_and_code(agent):
    device = add_totp(agent)
    add_backup_codes(agent, "zzzz2222")
    browser = signed_in_browser(agent)
    browser.post(reverse("accounts:login_verify"), {"code": current_code(device)})

    wrong_password = browser.post(
        reverse("accounts:security"), {"action": "disable", "password": "nope", "code": "zzzz2222"}
    )
    assert b"That is not your password." in wrong_password.content
    wrong_code = browser.post(
        reverse("accounts:security"), {"action": "disable", "password": PASSWORD, "code": "x1"}
    )
    assert b"That code is not right." in wrong_code.content
    assert services.has_two_factor(agent)

    # django-otp makes a device wait a moment after a wrong code before it tries again.
    with time_machine.travel(now() + timedelta(seconds=5)):
        browser.post(
            reverse("accounts:security"),
            {"action": "disable", "password": PASSWORD, "code": "zzzz2222"},
        )
    assert not services.has_two_factor(agent)
    assert not StaticToken.objects.filter(device__user=agent).exists()


def test_new_backup_codes_replace_the_old_ones(agent):
    device = add_totp(agent)
    add_backup_codes(agent, "oldc0de2")
    browser = signed_in_browser(agent)
    with time_machine.travel("2026-03-01 10:00:00Z", tick=False):
        browser.post(reverse("accounts:login_verify"), {"code": current_code(device)})
        response = browser.post(
            reverse("accounts:security"), {"action": "codes", "password": PASSWORD}
        )

    assert response.status_code == 200
    tokens = list(StaticToken.objects.filter(device__user=agent).values_list("token", flat=True))
    assert services.backup_code_digest("oldc0de2") not in tokens
    assert len(tokens) == services.BACKUP_CODE_COUNT
