"""Account emails. Sent from background tasks, never while a request waits."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from buttress.accounts.models import User


def password_reset_link(user: User) -> str:
    """A one-use link: the token stops working once the password (or last sign-in) changes."""
    path = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return f"{settings.BASE_URL}{path}"


def send_password_reset(user: User) -> None:
    context = {
        "user": user,
        "link": password_reset_link(user),
        "base_url": settings.BASE_URL,
        "has_password": user.has_usable_password(),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    subject = "".join(
        render_to_string("accounts/email/password_reset_subject.txt", context).splitlines()
    )
    body = render_to_string("accounts/email/password_reset.txt", context)
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]).send()
