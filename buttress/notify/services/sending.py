"""Notifying a person: the one entry point other apps call (:func:`notify_user`), the rules
that turn it into notifications, and each delivery attempt with its retries."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.tasks import Task

from buttress.accounts.models import User
from buttress.lib.timeutil import now
from buttress.notify import links as action_links
from buttress.notify.models import (
    PENDING_STATUSES,
    ContactMethod,
    DeliveryStatus,
    MethodKind,
    Notification,
    NotificationRule,
    Urgency,
)
from buttress.notify.services import delivery
from buttress.notify.tasks import deliver_notification
from buttress.scheduler.claims import URGENT_PRIORITY, at_priority, enqueue_with_claim

if TYPE_CHECKING:
    from django.core.mail import EmailMessage

    from buttress.desk.models import Ticket, TicketEvent
    from buttress.tenancy.models import Contact

logger = logging.getLogger(__name__)

# How long a claimed attempt may take before the scheduler tries again.
LEASE = timedelta(minutes=2)
MAX_SUBJECT = 250
# A chat message carries a requester's mail text up to this many characters.
CHAT_TEXT_LIMIT = 4000


def after_quiet_hours(at: datetime, start: time, end: time, zone: str) -> datetime:
    """``at``, or the end of the quiet hours ``[start, end)`` (wall clock in ``zone``; past
    midnight when ``start > end``) that ``at`` falls in."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    local = at.astimezone(tz)
    clock = local.time()
    if start < end:
        quiet = start <= clock < end
        day = local.date()
    else:
        quiet = clock >= start or clock < end
        day = local.date() if clock < end else local.date() + timedelta(days=1)
    if not quiet:
        return at
    return datetime.combine(day, end, tzinfo=tz).astimezone(at.tzinfo)


@dataclass(frozen=True)
class _Route:
    method: ContactMethod | None
    channel: str
    destination: str
    due: datetime


def _routes(user: User, *, urgent: bool, at: datetime) -> list[_Route]:
    rules = list(NotificationRule.objects.filter(user=user).select_related("method").order_by("pk"))
    if not rules:
        # Nobody is left uninformed: without rules, the account's address now.
        if not user.email:
            return []
        return [_Route(None, MethodKind.EMAIL, user.email, at)]
    routes = []
    for rule in rules:
        if rule.urgency == Urgency.URGENT and not urgent:
            continue
        due = at + timedelta(minutes=rule.delay_minutes)
        if not urgent and rule.quiet_start is not None and rule.quiet_end is not None:
            due = after_quiet_hours(due, rule.quiet_start, rule.quiet_end, user.time_zone)
        method = rule.method
        routes.append(_Route(method, method.kind, method.target_hint, due))
    return routes


def _with_links(body: str, ticket: Ticket | None, user: User) -> str:
    if ticket is None:
        return body
    return "\n".join(
        [
            body,
            "",
            f"Acknowledge: {action_links.acknowledge_url(ticket.pk, user.pk)}",
            f"Resolve: {action_links.resolve_url(ticket.pk, user.pk)}",
        ]
    )


def enqueue(
    task: Task[[int, str], bool | None], pk: int, due: datetime, *, urgent: bool = False
) -> None:
    """Queue ``task(pk, claim)`` for a row whose timer now holds ``due`` as its claim (see
    :func:`buttress.scheduler.claims.enqueue_with_claim`)."""
    enqueue_with_claim(at_priority(task, URGENT_PRIORITY if urgent else None), pk, due.isoformat())


@transaction.atomic
def notify_user(
    user: User,
    *,
    subject: str,
    body: str,
    ticket: Ticket | None = None,
    urgent: bool = False,
    links: bool = True,
    event: str = "",
    ticket_event: TicketEvent | None = None,
    at: datetime | None = None,
) -> list[Notification]:
    """Notify ``user`` through each of their rules (each after its delay; outside quiet hours
    unless ``urgent``); without rules, by mail to their account address. A notification due
    now is handed to a worker at once; a later one is sent by the scheduler when due. With a
    ``ticket`` and ``links``, the message ends with one-click acknowledge and resolve links.
    Returns the notifications queued (none for an inactive user)."""
    if not user.is_active:
        return []
    at = at or now()
    text = _with_links(body, ticket, user) if links else body
    created = []
    for route in _routes(user, urgent=urgent, at=at):
        immediate = route.due <= at
        notification = Notification.objects.create(
            user=user,
            organization_id=ticket.organization_id if ticket is not None else None,
            ticket=ticket,
            ticket_event=ticket_event,
            method=route.method,
            channel=route.channel,
            destination=route.destination[:254],
            event=event,
            urgent=urgent,
            subject=subject[:MAX_SUBJECT],
            body=text,
            created_at=at,
            scheduled_for=route.due,
            send_due_at=at + LEASE if immediate else route.due,
        )
        if immediate:
            assert notification.send_due_at is not None
            enqueue(deliver_notification, notification.pk, notification.send_due_at, urgent=True)
        created.append(notification)
    return created


def notify_requester_targets(
    requester: Contact, ticket: Ticket, message: EmailMessage, event: str
) -> list[Notification]:
    """Hand the mail a requester was just sent about ``ticket`` to the Apprise targets they
    added on the portal too (the contact methods of the active accounts linked to the contact):
    its subject, and its text up to ``CHAT_TEXT_LIMIT`` characters; logged and retried like
    every notification. The caller has checked that the requester wants ``event``."""
    body = str(message.body)
    if len(body) > CHAT_TEXT_LIMIT:
        body = body[: CHAT_TEXT_LIMIT - 1] + "…"
    return notify_requester_channels(
        requester.pk, ticket=ticket, subject=str(message.subject), body=body, event=event
    )


def notify_requester_channels(
    contact_id: int, *, ticket: Ticket, subject: str, body: str, event: str
) -> list[Notification]:
    """Hand a requester's ticket message to the Apprise targets they added on the portal,
    besides the mail the desk sends them (see :func:`notify_requester_targets`)."""
    methods = ContactMethod.objects.filter(
        user__contact_id=contact_id, user__is_active=True, kind=MethodKind.APPRISE
    ).select_related("user")
    created = []
    for method in methods:
        notification = _due_now(
            method, ticket=ticket, event=event, subject=subject, body=body, at=now()
        )
        assert notification.send_due_at is not None
        enqueue(deliver_notification, notification.pk, notification.send_due_at, urgent=True)
        created.append(notification)
    return created


def send_test(method: ContactMethod, *, actor: User) -> Notification:
    """A test message through ``method`` now, logged like any other; the method counts as
    verified once one has been sent."""
    notification = _due_now(
        method,
        ticket=None,
        event="test",
        subject="buttress test notification",
        body=f"This is a test of the contact method {method.label!r}, sent by {actor.email}.",
        at=now(),
    )
    assert notification.send_due_at is not None
    claim = notification.send_due_at.isoformat()
    delivery.attempt(notification.pk, claim)
    notification.refresh_from_db()
    return notification


def _due_now(
    method: ContactMethod,
    *,
    ticket: Ticket | None,
    event: str,
    subject: str,
    body: str,
    at: datetime,
) -> Notification:
    """A notification through ``method`` to be sent now, its first attempt under a lease."""
    return Notification.objects.create(
        user=method.user,
        organization_id=ticket.organization_id if ticket is not None else None,
        ticket=ticket,
        method=method,
        channel=method.kind,
        destination=method.target_hint[:254],
        event=event[:24],
        subject=subject[:MAX_SUBJECT],
        body=body,
        created_at=at,
        scheduled_for=at,
        send_due_at=at + LEASE,
    )


@transaction.atomic
def cancel_pending(*, ticket_id: int) -> int:
    """Cancel the ticket's notifications not yet sent (delayed steps after an acknowledgement);
    returns how many."""
    return Notification.objects.filter(ticket_id=ticket_id, status__in=PENDING_STATUSES).update(
        status=DeliveryStatus.CANCELLED, send_due_at=None
    )
