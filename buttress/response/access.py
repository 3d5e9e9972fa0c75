"""Fetching incident work with tenancy and permission applied in one call.

It rides on the desk's access layer: whoever may see the ticket reaches its incident (another
organisation's ticket answers 404). Severity, roles, internal updates and the postmortem are
the provider's own working notes, for staff only; customers see the customer-facing status
updates, on their request's page. Changing anything needs the desk's right to work tickets.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from buttress.accounts.models import STAFF_ROLES, User
from buttress.desk.access import DeskCapability, can, get_ticket_for, is_staff
from buttress.desk.models import Ticket, TicketType
from buttress.response.models import (
    ActionItem,
    Incident,
    IncidentEvent,
    RoleAssignment,
    StatusUpdate,
    Visibility,
)

MAX_ID = 2**63 - 1


def _is_id(pk: int | str) -> bool:
    text = str(pk).strip()
    return text.isdigit() and int(text) <= MAX_ID


def get_incident_ticket_for(user: User, pk: int | str, *, write: bool = False) -> Ticket:
    """An incident ticket ``user`` may see (else 404), for staff only (else 403); ``write``
    also needs the right to work tickets. A ticket of another type answers 404."""
    ticket = get_ticket_for(
        user, pk, capability=DeskCapability.WORK if write else DeskCapability.VIEW
    )
    if not is_staff(user):
        raise PermissionDenied("Incident work is for provider staff.")
    if ticket.type != TicketType.INCIDENT:
        raise Http404(f"{ticket.reference} is not an incident.")
    return ticket


def incident_for_reading(ticket: Ticket) -> Incident | None:
    """The incident row of a ticket fetched through the access layer, if work has begun."""
    return Incident.objects.filter(ticket=ticket).first()


def customer_updates_for(user: User, ticket: Ticket) -> QuerySet[StatusUpdate]:
    """The status updates ``user`` may read on ``ticket`` (fetched through the desk's access
    layer): all for staff, the customer-facing ones for customers."""
    updates = StatusUpdate.objects.filter(incident__ticket=ticket)
    return updates if is_staff(user) else updates.filter(visibility=Visibility.CUSTOMER)


def events_for(user: User, incident: Incident) -> QuerySet[IncidentEvent]:
    events = IncidentEvent.objects.filter(incident=incident)
    return events if is_staff(user) else events.filter(is_internal=False)


def get_assignment_for(ticket: Ticket, pk: int | str) -> RoleAssignment:
    """A role on ``ticket``'s incident (call with a ticket from :func:`get_incident_ticket_for`)."""
    found = (
        RoleAssignment.objects.filter(incident__ticket=ticket, pk=pk)
        .select_related("incident__ticket__organization", "user")
        .first()
        if _is_id(pk)
        else None
    )
    if found is None:
        raise Http404("No such role on this incident.")
    return found


def get_action_for(ticket: Ticket, pk: int | str) -> ActionItem:
    found = (
        ActionItem.objects.filter(postmortem__incident__ticket=ticket, pk=pk).first()
        if _is_id(pk)
        else None
    )
    if found is None:
        raise Http404("No such action item on this incident.")
    return found


def responders_for(ticket: Ticket) -> QuerySet[User]:
    """Staff who may take a role on ``ticket``'s incident: active, and seeing its
    organisation."""
    return (
        User.objects.filter(is_active=True, role__in=STAFF_ROLES)
        .filter(Q(limited_to__isnull=True) | Q(limited_to=ticket.organization_id))
        .distinct()
        .order_by("full_name", "email")
    )


def can_work(user: User) -> bool:
    return can(user, DeskCapability.WORK)
