"""Fetching escalation policies and a ticket's escalation with tenancy and permission applied.

Policies are the provider's configuration, like service levels: staff read the shared ones and
those of the organisations they see; admins change an organisation's, and only admins limited
to no organisation change shared ones. Customers see none of it. Starting, acknowledging and
cancelling an escalation is ticket work (agents and admins of the ticket's organisation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from buttress.accounts.models import STAFF_ROLES, Role
from buttress.desk.access import DeskCapability, get_ticket_for
from buttress.escalation.models import EscalationPolicy
from buttress.tenancy.access import Capability, has_unrestricted_scope, organizations_for, require

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.desk.models import Ticket
    from buttress.tenancy.models import Organization


def require_read(user: User) -> None:
    require(user, Capability.VIEW_ORG)
    if user.role not in STAFF_ROLES:
        raise PermissionDenied("Escalation is managed by the provider's staff.")


def require_write(user: User, organization: Organization | None) -> None:
    require_read(user)
    if user.role != Role.ADMIN:
        raise PermissionDenied("Only admins change escalation policies.")
    if organization is None and not has_unrestricted_scope(user):
        raise PermissionDenied("Only admins limited to no organisation change shared policies.")


def policies_for(user: User) -> QuerySet[EscalationPolicy]:
    if not user.is_authenticated or user.role not in STAFF_ROLES:
        return EscalationPolicy.objects.none()
    return EscalationPolicy.objects.filter(
        Q(organization__isnull=True) | Q(organization__in=organizations_for(user))
    )


def get_policy_for(user: User, pk: int | str, *, write: bool = False) -> EscalationPolicy:
    if not user.is_authenticated or not user.is_active:
        raise Http404("Policy not found.")
    try:
        found = (
            EscalationPolicy.objects.filter(
                Q(organization__isnull=True) | Q(organization__in=organizations_for(user))
            )
            .select_related("organization")
            .get(pk=pk)
        )
    except (EscalationPolicy.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Policy not found.") from exc
    if write:
        require_write(user, found.organization)
    else:
        require_read(user)
    return found


def get_ticket_to_escalate(user: User, pk: int | str, *, write: bool = False) -> Ticket:
    """A ticket whose escalation ``user`` may see (staff) or, with ``write``, drive (agents)."""
    ticket = get_ticket_for(
        user, pk, capability=DeskCapability.WORK if write else DeskCapability.VIEW
    )
    require_read(user)
    return ticket
