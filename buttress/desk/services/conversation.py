"""Replies, internal notes and time entries."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import STAFF_ROLES
from buttress.audit import services as audit
from buttress.desk.models import Activity, EventKind, Reply, Ticket, TimeEntry
from buttress.desk.search import index_reply
from buttress.desk.services.timeline import check_not_merged, record_event, touch
from buttress.desk.tasks import send_reply
from buttress.lib.timeutil import now
from buttress.sla import clocks
from buttress.tenancy.models import Contact

if TYPE_CHECKING:
    from buttress.accounts.models import User

MAX_BODY = 100_000
MAX_MINUTES = 24 * 60


@transaction.atomic
def add_reply(
    ticket: Ticket,
    *,
    actor: User | None,
    body: str,
    internal: bool = False,
    contact: Contact | None = None,
    at: dt.datetime | None = None,
) -> Reply:
    """A public reply, or an internal note with ``internal``.

    ``actor`` is the user who writes; ``contact`` a requester writing without an account
    (mail). The first public reply by provider staff stamps ``first_response_at``, once: it
    is what stops a first-response clock.
    """
    at = at or now()
    check_not_merged(ticket)
    text = body.strip()
    if not text:
        raise ValidationError({"body": "The reply is empty."})
    if len(text) > MAX_BODY:
        raise ValidationError({"body": f"A reply is at most {MAX_BODY} characters."})
    by_staff = actor is not None and actor.role in STAFF_ROLES
    if internal and not by_staff:
        raise ValidationError({"internal": "Only provider staff write internal notes."})
    if contact is None and actor is not None and not by_staff:
        contact = actor.contact
    if contact is not None and contact.organization_id != ticket.organization_id:
        raise ValidationError({"contact": "The contact belongs to another organisation."})
    if actor is None and contact is None:
        raise ValidationError("A reply needs an author.")
    reply = Reply.objects.create(
        ticket=ticket,
        author=actor if actor is not None and actor.pk else None,
        author_contact=contact,
        body=text,
        is_internal=internal,
        created_at=at,
    )
    first_response = by_staff and not internal and ticket.first_response_at is None
    if first_response:
        ticket.first_response_at = at
        ticket.save(update_fields=["first_response_at"])
    detail: dict[str, object] = {"reply": reply.pk, "by": "agent" if by_staff else "customer"}
    if first_response:
        detail["first_response"] = True
    record_event(
        ticket,
        EventKind.NOTE_ADDED if internal else EventKind.REPLIED,
        actor=actor,
        at=at,
        detail=detail,
        internal=internal,
    )
    audit.record_create(
        reply, actor=actor, organization=ticket.organization, fields=("ticket", "is_internal")
    )
    touch(ticket, at)
    index_reply(ticket, reply)
    if not internal:
        signal = clocks.Signal.AGENT_REPLY if by_staff else clocks.Signal.CUSTOMER_REPLY
        clocks.sync(ticket, at=at, signal=signal)
        if by_staff:
            transaction.on_commit(partial(send_reply.enqueue, reply.pk))
    return reply


@transaction.atomic
def log_time(
    ticket: Ticket,
    *,
    actor: User,
    minutes: int,
    activity: str = Activity.REMOTE,
    billable: bool = True,
    note: str = "",
    date: dt.date | None = None,
) -> TimeEntry:
    """Work done on the ticket; one entry is at most a day (1,440 minutes)."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValidationError({"minutes": f"Minutes must be between 1 and {MAX_MINUTES}."})
    if activity not in Activity.values:
        raise ValidationError({"activity": f"Must be one of {', '.join(Activity.values)}."})
    at = now()
    entry = TimeEntry(
        ticket=ticket,
        user=actor,
        minutes=minutes,
        activity=activity,
        billable=billable,
        note=note.strip(),
        date=date or at.date(),
        created_at=at,
    )
    entry.full_clean(exclude=["ticket", "user"])
    entry.save()
    record_event(
        ticket,
        EventKind.TIME_LOGGED,
        actor=actor,
        at=at,
        detail={
            "entry": entry.pk,
            "minutes": minutes,
            "activity": activity,
            "billable": billable,
        },
        internal=True,
    )
    audit.record_create(
        entry,
        actor=actor,
        organization=ticket.organization,
        fields=("ticket", "minutes", "activity", "billable", "date"),
    )
    return entry
