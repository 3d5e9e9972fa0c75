"""Replies, internal notes and time entries."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import STAFF_ROLES
from buttress.audit import services as audit
from buttress.desk.models import Activity, EventKind, Reply, Status, Ticket, TimeEntry
from buttress.desk.search import index_reply
from buttress.desk.services.tickets import transition
from buttress.desk.services.timeline import check_not_merged, record_event, touch
from buttress.desk.tasks import send_reply
from buttress.lib.timeutil import now
from buttress.sla import clocks
from buttress.tenancy.models import Contact

if TYPE_CHECKING:
    from buttress.accounts.models import User

MAX_BODY = 100_000
MAX_MINUTES = 24 * 60
# The statuses a customer's public reply takes back to open, and the reason it records.
CUSTOMER_REPLY_REOPENS = frozenset({Status.WAITING_ON_CUSTOMER, Status.RESOLVED})
CUSTOMER_REPLIED = "customer_replied"


@transaction.atomic
def add_reply(
    ticket: Ticket,
    *,
    actor: User | None,
    body: str,
    internal: bool = False,
    contact: Contact | None = None,
    at: dt.datetime | None = None,
    keep_status: bool = False,
) -> Reply:
    """A public reply, or an internal note with ``internal``.

    ``actor`` is the user who writes; ``contact`` a requester writing without an account
    (mail). The first public reply by provider staff stamps ``first_response_at``, once: it
    is what stops a first-response clock.

    A public reply from the customer's side answers the desk: a ticket waiting on the
    customer goes back to open and a resolved one is reopened (both on the timeline with the
    reason ``customer_replied``), so its SLA clocks run again; a closed ticket takes no more
    replies (mail to it opens a follow-up, see :mod:`.inbound`). ``keep_status`` leaves the
    status alone, for a comment that comes with the customer's own status change.
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
    moves_status = not by_staff and not internal and not keep_status
    if moves_status and ticket.status == Status.CLOSED:
        raise ValidationError(
            {
                "body": f"{ticket.reference} is closed and takes no more replies; "
                "open a new request and mention it there."
            }
        )
    reply = Reply.objects.create(
        ticket=ticket,
        author=actor if actor is not None and actor.pk else None,
        author_contact=contact,
        body=text,
        is_internal=internal,
        created_at=at,
    )
    if moves_status and ticket.status in CUSTOMER_REPLY_REOPENS:
        # The status moves first, on the timeline as for the clocks: a reopened ticket's reply
        # starts a next-response cycle, which a resolved one would not, and a replay of the
        # timeline (sla.replay) must meet the two in the same order.
        transition(ticket, Status.OPEN, actor=actor, at=at, reason=CUSTOMER_REPLIED, reply=reply.pk)
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
