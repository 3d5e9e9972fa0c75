"""One-click links in notifications: acknowledge or resolve a ticket without signing in.

A link names the ticket, the recipient and the action, signed with Django's signing (a
timestamped HMAC under ``SECRET_KEY``) and valid for ``NOTIFY_LINK_VALID_HOURS``. The page it
opens only asks for confirmation; the action happens on the POST of that page, so a mail
scanner that fetches every link changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse

SALT = "buttress.notify.action"
ACTIONS = ("acknowledge", "resolve")


def valid_hours() -> int:
    return int(getattr(settings, "NOTIFY_LINK_VALID_HOURS", 72))


@dataclass(frozen=True)
class ActionLink:
    ticket_id: int
    user_id: int
    action: str


def make_token(ticket_id: int, user_id: int, action: str) -> str:
    if action not in ACTIONS:
        msg = f"unknown action {action!r}"
        raise ValueError(msg)
    return signing.dumps({"t": ticket_id, "u": user_id, "a": action}, salt=SALT, compress=True)


def action_url(ticket_id: int, user_id: int, action: str) -> str:
    token = make_token(ticket_id, user_id, action)
    return settings.BASE_URL + reverse("notify:action", kwargs={"token": token})


def acknowledge_url(ticket_id: int, user_id: int) -> str:
    return action_url(ticket_id, user_id, "acknowledge")


def resolve_url(ticket_id: int, user_id: int) -> str:
    return action_url(ticket_id, user_id, "resolve")


def read_token(token: str) -> ActionLink:
    """What a link asks for; ``ValidationError`` for a bad, altered or expired link."""
    try:
        data = signing.loads(token, salt=SALT, max_age=valid_hours() * 3600)
    except signing.SignatureExpired:
        raise ValidationError("This link has expired.") from None
    except signing.BadSignature:
        raise ValidationError("This link is not valid.") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("t"), int)
        or not isinstance(data.get("u"), int)
        or data.get("a") not in ACTIONS
    ):
        raise ValidationError("This link is not valid.")
    return ActionLink(ticket_id=data["t"], user_id=data["u"], action=data["a"])


# --- requesters' mail preferences ------------------------------------------------------------

REQUESTER_SALT = "buttress.notify.requester-mail"


def requester_token(contact_id: int) -> str:
    """The token of a requester's "choose your mail" link. It names only the contact and
    grants only that choice, so it does not expire: the link in a year-old mail still lets
    its reader stop the mail."""
    return signing.dumps({"c": contact_id}, salt=REQUESTER_SALT)


def requester_url(contact_id: int) -> str:
    token = requester_token(contact_id)
    return settings.BASE_URL + reverse("notify:requester", kwargs={"token": token})


def requester_unsubscribe_url(contact_id: int) -> str:
    """Where ``List-Unsubscribe`` points: a POST there (RFC 8058 one-click) stops all mail."""
    token = requester_token(contact_id)
    return settings.BASE_URL + reverse("notify:requester_unsubscribe", kwargs={"token": token})


def read_requester_token(token: str) -> int:
    """The contact a link names; ``ValidationError`` for a bad or altered link."""
    try:
        data = signing.loads(token, salt=REQUESTER_SALT)
    except signing.BadSignature:
        raise ValidationError("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise ValidationError("This link is not valid.")
    return int(data["c"])
