"""Counting failed sign-ins and reset requests, per email and per client address.

The counts live in the database (``SignInAttempt``), so every web process and every host
behind a load balancer enforces the same limit.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from buttress.accounts.models import SignInAttempt
from buttress.lib.timeutil import now

SIGN_IN_LIMIT = 10
# Per address the limit is higher: an office behind one NAT address shares it.
SIGN_IN_IP_LIMIT = 30
SIGN_IN_WINDOW = timedelta(minutes=15)
# Reset mails are cheap to ask for and land in someone's inbox, so fewer are allowed.
RESET_LIMIT_PER_EMAIL = 3
RESET_LIMIT_PER_IP = 20
RESET_WINDOW = timedelta(minutes=15)
PRUNE_AFTER = max(SIGN_IN_WINDOW, RESET_WINDOW)


class Throttled(Exception):
    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        minutes = max(1, math.ceil(retry_after.total_seconds() / 60))
        self.minutes = minutes
        super().__init__(f"Too many attempts. Try again in {minutes} minute(s).")


def _blocked_until(
    kind: str,
    *,
    email: str,
    ip_address: str | None,
    email_limit: int,
    ip_limit: int,
    window: timedelta,
    at: datetime,
) -> datetime | None:
    recent = SignInAttempt.objects.filter(kind=kind, at__gt=at - window)
    until: datetime | None = None
    checks = [("email", email.strip().lower(), email_limit), ("ip_address", ip_address, ip_limit)]
    for field, value, limit in checks:
        if not value:
            continue
        times = list(
            recent.filter(**{field: value}).order_by("-at").values_list("at", flat=True)[:limit]
        )
        if len(times) >= limit:
            # Blocked until the oldest of the last ``limit`` attempts leaves the window.
            candidate = times[-1] + window
            until = candidate if until is None else max(until, candidate)
    return until


def _check(
    kind: str,
    *,
    email: str,
    ip_address: str | None,
    email_limit: int,
    ip_limit: int,
    window: timedelta,
) -> None:
    at = now()
    until = _blocked_until(
        kind,
        email=email,
        ip_address=ip_address,
        email_limit=email_limit,
        ip_limit=ip_limit,
        window=window,
        at=at,
    )
    if until is not None:
        raise Throttled(until - at)


def _note(kind: str, *, email: str, ip_address: str | None) -> None:
    at = now()
    SignInAttempt.objects.filter(at__lt=at - PRUNE_AFTER).delete()
    SignInAttempt.objects.create(
        kind=kind, at=at, email=email.strip().lower()[:254], ip_address=ip_address or None
    )


def check_sign_in_allowed(*, email: str, ip_address: str | None) -> None:
    """Raise ``Throttled`` while this email or address has too many recent failures."""
    _check(
        SignInAttempt.Kind.FAILED_LOGIN,
        email=email,
        ip_address=ip_address,
        email_limit=SIGN_IN_LIMIT,
        ip_limit=SIGN_IN_IP_LIMIT,
        window=SIGN_IN_WINDOW,
    )


def note_sign_in_failure(*, email: str, ip_address: str | None) -> None:
    _note(SignInAttempt.Kind.FAILED_LOGIN, email=email, ip_address=ip_address)


def clear_sign_in_failures(*, email: str) -> None:
    """Forget an email's failures once its owner proved who they are.

    Failures per address are kept: a guesser who also owns an account must not be able to
    reset its own counter by signing in.
    """
    SignInAttempt.objects.filter(
        kind=SignInAttempt.Kind.FAILED_LOGIN, email=email.strip().lower()
    ).delete()


def check_password_reset_allowed(*, email: str, ip_address: str | None) -> None:
    _check(
        SignInAttempt.Kind.PASSWORD_RESET,
        email=email,
        ip_address=ip_address,
        email_limit=RESET_LIMIT_PER_EMAIL,
        ip_limit=RESET_LIMIT_PER_IP,
        window=RESET_WINDOW,
    )


def note_password_reset_request(*, email: str, ip_address: str | None) -> None:
    _note(SignInAttempt.Kind.PASSWORD_RESET, email=email, ip_address=ip_address)
