"""Writing the ticket's timeline; every service calls :func:`record_event` for each change."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from buttress.desk.models import Ticket, TicketEvent
from buttress.lib.timeutil import now
from buttress.notify import events as notify_events

if TYPE_CHECKING:
    from buttress.accounts.models import User


def record_event(
    ticket: Ticket,
    kind: str,
    *,
    actor: User | None,
    at: datetime | None = None,
    detail: dict[str, Any] | None = None,
    internal: bool = False,
) -> TicketEvent:
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor if actor is not None and actor.pk else None,
        at=at or now(),
        detail=detail or {},
        is_internal=internal,
    )
    # Subscribers and webhooks hear of it once the change commits.
    notify_events.ticket_events_recorded([event])
    return event


def touch(ticket: Ticket, at: datetime) -> None:
    """Move the ticket up its queues: lists are ordered by ``updated_at``."""
    ticket.updated_at = at
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=at)


def check_not_merged(ticket: Ticket) -> None:
    if ticket.merged_into_id is not None:
        raise ValidationError(
            f"{ticket.reference} was merged into another ticket; work on that one instead."
        )


def check_same_org(ticket: Ticket, other: Ticket, field: str) -> None:
    if other.organization_id != ticket.organization_id:
        raise ValidationError({field: "The tickets belong to different organisations."})
    if other.pk == ticket.pk:
        raise ValidationError({field: "A ticket cannot link to itself."})
