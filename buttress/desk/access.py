"""Fetching tickets with tenancy and permission applied in one call.

Provider staff see the tickets of the organisations they can see; an organisation admin sees
all of their organisation's; an end user sees the tickets they requested (through their
contact), opened or watch. Internal notes and internal timeline entries are for staff only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from buttress.accounts.models import STAFF_ROLES, Role
from buttress.desk.models import (
    Attachment,
    InboundMail,
    Macro,
    Reply,
    SavedView,
    Ticket,
    TicketEvent,
    TicketQuerySet,
)
from buttress.tenancy.access import (
    has_unrestricted_scope,
    organizations_for,
    sees_all_organizations,
)

if TYPE_CHECKING:
    from buttress.accounts.models import User


class DeskCapability(StrEnum):
    VIEW = "view_tickets"  # read tickets, public replies and the public timeline
    OPEN = "open_tickets"  # open tickets and write public replies
    WORK = "work_tickets"  # edit, assign, transition, notes, time, assets, merge


_GRANTS: dict[str, frozenset[DeskCapability]] = {
    Role.ADMIN: frozenset(DeskCapability),
    Role.AGENT: frozenset(DeskCapability),
    Role.VIEWER: frozenset({DeskCapability.VIEW}),
    Role.ORG_ADMIN: frozenset({DeskCapability.VIEW, DeskCapability.OPEN}),
    Role.END_USER: frozenset({DeskCapability.VIEW, DeskCapability.OPEN}),
}


def can(user: User, capability: DeskCapability) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return capability in _GRANTS.get(user.role, frozenset())


def require(user: User, capability: DeskCapability) -> None:
    if not can(user, capability):
        raise PermissionDenied(f"Your role may not {capability.value.replace('_', ' ')}.")


def is_staff(user: User) -> bool:
    return user.is_authenticated and user.role in STAFF_ROLES


def sees_internal(user: User) -> bool:
    """Internal notes, time entries and internal timeline entries: provider staff only."""
    return is_staff(user)


def tickets_for(user: User) -> TicketQuerySet:
    if not user.is_authenticated or not user.is_active:
        return Ticket.objects.none()
    if user.role in STAFF_ROLES:
        if sees_all_organizations(user):
            return Ticket.objects.all()
        return Ticket.objects.for_orgs(organizations_for(user))
    if user.organization_id is None:
        return Ticket.objects.none()
    mine = Ticket.objects.for_org(user.organization_id)
    if user.role == Role.ORG_ADMIN:
        return mine
    if user.role == Role.END_USER:
        watching = Ticket.watchers.through.objects.filter(ticket_id=OuterRef("pk"), user_id=user.pk)
        own: Q = Q(created_by=user) | Q(Exists(watching))
        if user.contact_id is not None:
            own |= Q(requester_id=user.contact_id)
        return mine.filter(own)
    return Ticket.objects.none()


def get_ticket_for(
    user: User, pk: int | str, *, capability: DeskCapability = DeskCapability.VIEW
) -> Ticket:
    """The ticket if ``user`` may see it (else 404) and has ``capability`` (else 403)."""
    if not user.is_authenticated or not user.is_active:
        raise Http404("Ticket not found.")
    try:
        ticket = (
            tickets_for(user)
            .select_related("organization", "requester", "assignee", "team")
            .get(pk=pk)
        )
    except (Ticket.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Ticket not found.") from exc
    require(user, DeskCapability.VIEW)
    require(user, capability)
    return ticket


def replies_for(user: User, ticket: Ticket) -> QuerySet[Reply]:
    """The ticket's replies ``user`` may read (call with a ticket from :func:`get_ticket_for`)."""
    replies = Reply.objects.filter(ticket=ticket)
    return replies if sees_internal(user) else replies.filter(is_internal=False)


def events_for(user: User, ticket: Ticket) -> QuerySet[TicketEvent]:
    events = TicketEvent.objects.filter(ticket=ticket)
    return events if sees_internal(user) else events.filter(is_internal=False)


def views_for(user: User) -> QuerySet[SavedView]:
    """The user's own saved views and the shared ones (provider staff only)."""
    if not is_staff(user):
        return SavedView.objects.none()
    return SavedView.objects.filter(Q(owner=user) | Q(is_shared=True))


def get_view_for(user: User, pk: int | str) -> SavedView:
    view = views_for(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if view is None:
        raise Http404("No such saved view.")
    return view


def macros_for(user: User, ticket: Ticket) -> QuerySet[Macro]:
    """The active macros ``user`` may apply to ``ticket``: shared ones and its organisation's."""
    if not can(user, DeskCapability.WORK):
        return Macro.objects.none()
    return Macro.objects.usable_for(ticket.organization_id)


def manageable_macros(user: User) -> QuerySet[Macro]:
    """Macros staff see on the macro pages: shared ones and their organisations'."""
    if not is_staff(user):
        return Macro.objects.none()
    return Macro.objects.filter(
        Q(organization__isnull=True) | Q(organization__in=organizations_for(user))
    )


def get_macro_for(user: User, pk: int | str, *, write: bool = False) -> Macro:
    macro = manageable_macros(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if macro is None:
        raise Http404("No such macro.")
    if write:
        require_macro_admin(user, macro.organization_id)
    return macro


def require_macro_admin(user: User, organization_id: int | None) -> None:
    """Admins manage macros; a shared macro needs an admin limited to no organisation."""
    if user.role != Role.ADMIN:
        raise PermissionDenied("Only admins manage macros.")
    if organization_id is None and user.limited_to.exists():
        raise PermissionDenied("Only admins limited to no organisation change shared macros.")


def attachments_for(user: User, ticket: Ticket) -> QuerySet[Attachment]:
    """The ticket's files ``user`` may fetch (call with a ticket from :func:`get_ticket_for`)."""
    files = Attachment.objects.filter(ticket=ticket)
    return files if sees_internal(user) else files.filter(is_internal=False)


def get_attachment_for(user: User, pk: int | str) -> Attachment:
    """The file if ``user`` may see its ticket and, for an internal one, is staff; else 404."""
    attachment = Attachment.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if attachment is None:
        raise Http404("No such file.")
    ticket = get_ticket_for(user, attachment.ticket_id)
    if not attachments_for(user, ticket).filter(pk=attachment.pk).exists():
        raise Http404("No such file.")
    return attachment


def inbound_mail_for(user: User) -> QuerySet[InboundMail]:
    """Received mail the user may review: provider staff only; mail of no organisation yet
    (an unknown sender) only for staff who see every organisation."""
    if not is_staff(user):
        raise PermissionDenied("Received mail is reviewed by provider staff.")
    rows = InboundMail.objects.select_related("organization", "ticket")
    if sees_all_organizations(user):
        return rows
    return rows.filter(organization__in=organizations_for(user))


def get_inbound_mail_for(user: User, pk: int, *, write: bool = False) -> InboundMail:
    """One received message (404 when not visible); ``write`` (retry, discard) needs the
    capability to work tickets."""
    found = inbound_mail_for(user).filter(pk=pk).first() if is_staff(user) else None
    if found is None:
        raise Http404("No such message.")
    if write:
        require(user, DeskCapability.WORK)
    return found


def may_change_priority_matrix(user: User) -> bool:
    """The matrix is the installation's: admins limited to no organisation change it."""
    return has_unrestricted_scope(user)


def require_priority_admin(user: User) -> None:
    if not may_change_priority_matrix(user):
        raise PermissionDenied("Only admins limited to no organisation change the priority matrix.")
