"""What the one-click links do: acknowledge or resolve a ticket as the recipient, through the
desk's services."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from buttress.accounts.models import User
from buttress.desk import access as desk_access
from buttress.desk import services as desk
from buttress.desk.access import DeskCapability
from buttress.desk.models import Status, Ticket
from buttress.lib.timeutil import now
from buttress.notify.links import ActionLink
from buttress.notify.services import cancel_pending
from buttress.notify.signals import acknowledged


def target(link: ActionLink) -> tuple[User, Ticket]:
    """The recipient and ticket a link names, if the recipient may still work on it (else
    404 for a gone user or a ticket they no longer see, 403 for a role that may not act)."""
    user = User.objects.filter(pk=link.user_id, is_active=True).first()
    if user is None:
        raise Http404("This link's recipient no longer has an account.")
    ticket = desk_access.get_ticket_for(user, link.ticket_id)
    if not desk_access.can(user, DeskCapability.WORK):
        raise PermissionDenied("Your role may not work on tickets.")
    return user, ticket


@transaction.atomic
def acknowledge(ticket: Ticket, *, user: User, via: str, at: datetime | None = None) -> None:
    """Record the acknowledgement, cancel the ticket's notifications still waiting (later
    escalation steps), and tell whoever listens."""
    at = at or now()
    desk.acknowledge(ticket, actor=user, at=at, via=via)
    cancel_pending(ticket_id=ticket.pk)
    acknowledged.send(sender=Ticket, ticket=ticket, user=user, at=at)


@transaction.atomic
def perform(link: ActionLink) -> str:
    """Do what the link asks; the sentence to show. ``ValidationError`` when the ticket
    cannot move (already resolved, merged)."""
    user, ticket = target(link)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if link.action == "acknowledge":
        if ticket.status in (Status.RESOLVED, Status.CLOSED):
            raise ValidationError(f"{ticket.reference} is already {ticket.get_status_display()}.")
        acknowledge(ticket, user=user, via="link")
        return f"{ticket.reference} acknowledged."
    desk.transition(ticket, Status.RESOLVED, actor=user)
    cancel_pending(ticket_id=ticket.pk)
    return f"{ticket.reference} resolved."
