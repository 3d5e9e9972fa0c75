"""Second factors: an authenticator app (TOTP) with one-time backup codes, via django-otp."""

from __future__ import annotations

import hashlib
import hmac
import re
from base64 import b32encode
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from buttress.accounts.models import User
from buttress.accounts.services.sessions import revoke_all_sessions
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry

BACKUP_CODE_COUNT = 10
_TOTP_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class PendingTotp:
    """An authenticator being set up: what the app needs to scan or type."""

    device: TOTPDevice
    config_url: str
    secret: str  # base32, for typing into an app that cannot scan


def has_two_factor(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def _pending(device: TOTPDevice) -> PendingTotp:
    return PendingTotp(
        device=device,
        config_url=device.config_url,
        secret=b32encode(device.bin_key).decode().rstrip("="),
    )


@transaction.atomic
def begin_totp_setup(user: User) -> PendingTotp:
    """A fresh unconfirmed authenticator for ``user``; it counts only once a code confirms it."""
    if has_two_factor(user):
        raise ValidationError("Two-factor authentication is already on.")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return _pending(device)


def pending_totp(user: User) -> PendingTotp | None:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return _pending(device) if device is not None else None


def _normalise_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def backup_code_digest(code: str) -> str:
    """What is stored for a backup code: a keyed hash, never the code.

    Codes carry only 40 bits, so a plain hash could be reversed by trying them all; keyed with
    the secret key, a stolen database alone reveals nothing. django-otp's static device then
    compares digests as it would compare codes (its column holds 16 characters).
    """
    mac = hmac.new(settings.SECRET_KEY.encode(), f"backup-code:{code}".encode(), hashlib.sha256)
    return mac.hexdigest()[:16]


def _replace_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=backup_code_digest(code)) for code in codes
    )
    return codes


def confirm_totp(
    user: User, *, code: str, keep_session: str | None = None
) -> tuple[TOTPDevice, list[str]]:
    """Turn the pending authenticator on if ``code`` comes from it; it and new backup codes.

    The codes are returned once, to be shown once. Every other session of the user ends:
    they were signed in without the second factor.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        raise ValidationError({"code": "Start the set-up again: no authenticator is waiting."})
    # Verified outside the transaction below so a wrong code's throttling count is kept.
    if not _TOTP_CODE.match(_normalise_code(code)) or not device.verify_token(
        _normalise_code(code)
    ):
        raise ValidationError(
            {"code": "That code is not right. Check the app's clock and type the newest code."}
        )
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _replace_backup_codes(user)
        revoke_all_sessions(user, actor=user, keep=keep_session)
        audit.record(
            user,
            actor=user,
            action=AuditEntry.Action.SECURITY,
            organization=user.organization,
            note="two-factor authentication turned on",
        )
    return device, codes


@transaction.atomic
def regenerate_backup_codes(user: User, *, actor: User | None) -> list[str]:
    if not has_two_factor(user):
        raise ValidationError("Turn on two-factor authentication first.")
    codes = _replace_backup_codes(user)
    audit.record(
        user,
        actor=actor,
        action=AuditEntry.Action.SECURITY,
        organization=user.organization,
        note="backup codes replaced",
    )
    return codes


def remaining_backup_codes(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


@transaction.atomic
def verify_second_factor(user: User, code: str) -> Device | None:
    """The confirmed device that accepts ``code`` (an app code or a backup code), or None.

    A six-digit code is tried only against the authenticator and anything else only against
    the backup codes, so a mistyped code of one kind doesn't throttle the other.
    """
    cleaned = _normalise_code(code)
    if not cleaned:
        return None
    candidates: list[Device]
    if _TOTP_CODE.match(cleaned):
        candidates = list(TOTPDevice.objects.filter(user=user, confirmed=True).select_for_update())
    else:
        candidates = list(
            StaticDevice.objects.filter(user=user, confirmed=True).select_for_update()
        )
    for device in candidates:
        given = backup_code_digest(cleaned) if isinstance(device, StaticDevice) else cleaned
        if device.verify_token(given):
            return device
    return None


@transaction.atomic
def disable_two_factor(user: User, *, actor: User | None) -> None:
    """Remove every second factor of ``user``. Callers check the password and a code first."""
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    removed += StaticDevice.objects.filter(user=user).delete()[0]
    if removed:
        audit.record(
            user,
            actor=actor,
            action=AuditEntry.Action.SECURITY,
            organization=user.organization,
            note="two-factor authentication turned off",
        )
