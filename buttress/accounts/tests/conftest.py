from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from buttress.accounts import services
from buttress.accounts.middleware import FirstRunMiddleware
from buttress.accounts.models import User
from buttress.testing.factories import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_first_run_state() -> Iterator[None]:
    # The "users exist" answer is cached per process; each test starts from its own database.
    FirstRunMiddleware.forget()
    yield
    FirstRunMiddleware.forget()


@pytest.fixture
def immediate_tasks(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def add_totp(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def add_backup_codes(user: User, *codes: str) -> StaticDevice:
    device = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    for code in codes:
        StaticToken.objects.create(device=device, token=services.backup_code_digest(code))
    return device


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def sign_in(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post("/login/", {"email": email, "password": password}, **extra)


def signed_in_browser(user: User, password: str = PASSWORD, **extra: Any) -> Client:
    """A separate browser signed in through the sign-in page (so its session is tracked)."""
    browser = Client(**extra)
    response = sign_in(browser, user.email, password)
    assert response.status_code == 302, response
    return browser
