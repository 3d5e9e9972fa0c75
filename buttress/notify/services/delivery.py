"""Each delivery attempt of a notification, with retries and exponential back-off."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction

from buttress.desk import mail as desk_mail
from buttress.desk.models import MailThread
from buttress.lib.timeutil import now
from buttress.notify import channels, crypto
from buttress.notify.models import (
    PENDING_STATUSES,
    ContactMethod,
    DeliveryStatus,
    MethodKind,
    Notification,
)
from buttress.notify.services.people import reveal

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, ... at most an hour."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, MAX_RETRY)


@dataclass(frozen=True)
class _Work:
    channel: str
    target: str
    subject: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    # A customer's Apprise target: checked again when sent, so a name that has come to
    # resolve to a private address since it was added is not reached.
    public_only: bool = False


def _mail_headers(row: Notification) -> tuple[str, dict[str, str]]:
    """(subject, headers) of a notification mailed about a ticket: the ticket's tag in the
    subject and its thread's headers, the Message-ID derived from the row so that every
    retry sends the same one. The Message-ID is remembered as the ticket's, so an answer
    that names it is threaded to the ticket."""
    ticket = row.ticket
    if ticket is None:
        return row.subject, {}
    headers = desk_mail.notification_headers(ticket, f"notify-{row.pk}")
    MailThread.objects.remember(ticket, headers["Message-ID"], outbound=True)
    return desk_mail.with_reference(ticket, row.subject), headers


def _claim_work(pk: int, claim: str) -> _Work | None:
    """What to send, if the row still carries ``claim`` and waits to be sent; a finished row's
    timer is cleared."""
    expected = datetime.fromisoformat(claim)
    with transaction.atomic():
        row = (
            # Only the notification's row: FOR UPDATE cannot lock the outer join's null side.
            Notification.objects.select_for_update(of=("self",))
            .select_related("method", "user", "ticket")
            .filter(pk=pk)
            .first()
        )
        if row is None or row.send_due_at != expected:
            return None
        if row.status not in PENDING_STATUSES:
            row.send_due_at = None
            row.save(update_fields=["send_due_at"])
            return None
        if row.channel == MethodKind.EMAIL and row.method is None:
            target = row.user.email
        elif row.method is None:
            _finish(row, ok=False, error="the contact method was deleted", final=True)
            return None
        else:
            try:
                target = reveal(row.method)
            except crypto.Unreadable as exc:
                _finish(row, ok=False, error=str(exc), final=True)
                return None
        if row.channel == MethodKind.EMAIL:
            subject, headers = _mail_headers(row)
            return _Work(row.channel, target, subject, row.body, headers)
        return _Work(
            row.channel,
            target,
            row.subject,
            row.body,
            public_only=not row.user.is_provider_staff,
        )


def _finish(row: Notification, *, ok: bool, error: str = "", final: bool = False) -> None:
    at = now()
    row.attempts += 1
    if ok:
        row.status = DeliveryStatus.SENT
        row.sent_at = at
        row.send_due_at = None
        row.last_error = ""
    elif final or row.attempts >= MAX_ATTEMPTS:
        row.status = DeliveryStatus.FAILED
        row.send_due_at = None
        row.last_error = error[:2000]
    else:
        row.status = DeliveryStatus.RETRYING
        row.send_due_at = at + backoff(row.attempts)
        row.last_error = error[:2000]
    row.save(update_fields=["attempts", "status", "sent_at", "send_due_at", "last_error"])


def _send(work: _Work) -> None:
    if work.channel == MethodKind.EMAIL:
        channels.send_email(work.target, work.subject, work.body, work.headers)
        return
    if work.public_only:
        try:
            private = channels.private_target(work.target)
        except ValueError as exc:
            raise channels.ChannelError(str(exc)) from None
        if private is not None:
            msg = f"refused: {private} is a private address; only provider staff may use one"
            raise channels.ChannelError(msg)
    channels.send_apprise(work.target, work.subject, work.body)


# The hand-off to the channel; a test replaces it to count or to fail on purpose.
sender: Callable[[_Work], None] = _send


def attempt(pk: int, claim: str) -> bool | None:
    """One delivery attempt of notification ``pk`` under the scheduler's ``claim``: None when
    the claim is stale (nothing done), else whether the channel accepted it. The channel is
    called outside any transaction, so a slow one holds no lock."""
    work = _claim_work(pk, claim)
    if work is None:
        return None
    error = ""
    try:
        sender(work)
    except channels.ChannelError as exc:
        error = str(exc)
    with transaction.atomic():
        row = Notification.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.send_due_at != datetime.fromisoformat(claim):
            return not error
        _finish(row, ok=not error, error=error)
        if not error and row.method_id is not None:
            ContactMethod.objects.filter(pk=row.method_id, verified_at__isnull=True).update(
                verified_at=row.sent_at
            )
    return not error
